"""Shadowing in Chromium: rows are marked with the database they come from, and
what a person does in the browser lands in the local database, never in the
snapshot."""

from decimal import Decimal

from django.urls import reverse

from project.overlay import Overlay
from reviewsite.browser_tests.test_site_in_browser import BrowserTestCase
from reviewsite.chromium import screenshot_on_failure
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import raw_count
from tests.helpers import SnapshotTestCase, run, snapshot_sha256


class MarkersInBrowserTests(BrowserTestCase, SnapshotTestCase):
    """Six snapshot products with two reviews each (SnapshotTestCase)."""

    def marks(self, selector: str) -> list[str]:
        return self.page.locator(f"{selector} .source").all_inner_texts()

    def test_pages_mark_local_and_snapshot_rows(self):
        edited = Overlay(Product).get(name="Snap 2")
        edited.price = Decimal("3.00")
        edited.save()  # copy-on-write: a local row now overrides the snapshot's
        with screenshot_on_failure(self.page, self.id()):
            self.page.goto(self.url("/"))
            marks = self.marks("table.products")
            self.open_activity_panel()
            panel = self.page.locator(".activity .queries .alias").all_inner_texts()
        self.assertEqual(sorted(marks), ["local"] + ["snapshot"] * 5)
        self.assertEqual(set(panel), {"default", "snapshot"})

    def test_a_review_written_in_the_browser_is_local_and_the_snapshot_unchanged(self):
        before = snapshot_sha256()
        product = Overlay(Product).get(name="Snap 4")
        with screenshot_on_failure(self.page, self.id()):
            self.page.goto(self.url(product.get_absolute_url()))
            self.assertEqual(self.marks("article.review"), ["snapshot"] * 2)
            self.page.fill("textarea[name=text]", "Tried out locally")
            self.page.click("text=Publish review")
            self.page.get_by_text("your review is saved").wait_for()
            marks = self.marks("article.review")
        self.assertEqual(sorted(marks), ["local", "snapshot", "snapshot"])
        self.assertEqual(raw_count("default", Review, text="Tried out locally"), 1)
        self.assertEqual(raw_count("snapshot", Review, text="Tried out locally"), 0)
        self.assertEqual(snapshot_sha256(), before)

    def test_a_snapshot_product_saved_in_the_admin_differs_only_in_its_price(self):
        key = Overlay(Product).get(name="Snap 3").pk
        page = self.page
        with screenshot_on_failure(page, self.id()):
            self.log_in_to_the_admin()
            page.goto(self.url(reverse("admin:products_product_change", args=[key])))
            page.fill("input[name=price]", "4.00")
            page.click("input[name=_save]")
            page.get_by_text("was changed successfully").wait_for()
        local = Product.objects.using("default").get(pk=key)
        snapshot = Product.objects.using("snapshot").get(pk=key)
        self.assertEqual(
            (local.price, local.created), (Decimal("4.00"), snapshot.created)
        )
        self.assertIn(
            f"~ #{key} Snap 3: price: Decimal('13.00') -> Decimal('4.00')\n",
            run("shadow_status"),
        )

    def test_the_activity_bar_shows_the_insert_of_a_review_on_the_local_database(self):
        product = Overlay(Product).get(name="Snap 4")
        with screenshot_on_failure(self.page, self.id()):
            self.publish_review(product, "Written locally")
            writes = self.writes_in_the_bar()
        self.assertIn(("INSERT reviews_review", "default"), writes)
        self.assertNotIn("snapshot", [alias for _, alias in writes])
