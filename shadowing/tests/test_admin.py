"""The admin over the overlay: it lists the snapshot's rows with the local ones,
and its edits and deletions of snapshot rows land in the local database."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.urls import reverse

from project.models import Tombstone
from project.overlay import Overlay
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import form_values, raw_count

from .helpers import SnapshotTestCase, run, snapshot_sha256


class OverlayAdminTests(SnapshotTestCase):
    def setUp(self):
        admin = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        self.client.force_login(admin)
        self.snapshot_product = Overlay(Product).get(name="Snap 0")

    def product_form(self, **changes):
        return {
            "name": "Snap 0",
            "description": "",
            "price": "10.00",
            "created_0": "2026-01-02",
            "created_1": "10:00:00",
            **changes,
        }

    def test_no_deprecated_get_actions_on_any_django(self):
        """Django 6.1 warns about get_actions() without action_location."""
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.client.get(reverse("admin:products_product_changelist"))
            key = self.snapshot_product.pk
            self.client.get(reverse("admin:products_product_change", args=[key]))
        self.assertEqual([w for w in caught if "get_actions" in str(w.message)], [])

    def test_changelist_lists_snapshot_and_local_rows_marked(self):
        Product.objects.create(name="Local kettle", price=Decimal("3"))
        page = self.client.get(reverse("admin:products_product_changelist"))
        self.assertContains(page, "Local kettle")
        self.assertContains(page, "Snap 5")
        self.assertContains(page, '<td class="field-source">snapshot</td>', count=6)
        self.assertContains(page, '<td class="field-source">local</td>', count=1)

    def test_changelist_filters_both_databases(self):
        url = reverse("admin:products_product_changelist")
        page = self.client.get(url, {"q": "Snap 3"})
        self.assertContains(page, "Snap 3")
        self.assertNotContains(page, "Snap 4")

    def test_review_changelist_pages_through_both_databases(self):
        Review.objects.create(product_id=self.snapshot_product.pk, text="Local one")
        url = reverse("admin:reviews_review_changelist")
        page = self.client.get(url)
        self.assertContains(page, '<td class="field-source">snapshot</td>', count=12)
        self.assertContains(page, '<td class="field-source">local</td>', count=1)
        # Products and authors of snapshot reviews are found through the overlay.
        self.assertNotContains(page, "(missing)")
        self.assertContains(page, '<td class="field-product_name">Snap 0</td>', count=3)

    def test_editing_a_snapshot_row_saves_its_local_copy(self):
        before = snapshot_sha256()
        url = reverse("admin:products_product_change", args=[self.snapshot_product.pk])
        self.assertContains(self.client.get(url), "Snap 0")
        response = self.client.post(url, self.product_form(price="4.00"))
        self.assertEqual(response.status_code, 302, response.content[:2000])
        self.assertEqual(raw_count("default", Product, id=self.snapshot_product.pk), 1)
        again = Overlay(Product).get(pk=self.snapshot_product.pk)
        self.assertEqual((again.price, again.shadow_source), (Decimal("4.00"), "local"))
        self.assertEqual(snapshot_sha256(), before)

    def test_a_snapshot_row_saved_with_one_field_changed_differs_in_that_field(self):
        key = self.snapshot_product.pk
        original = Product.objects.using("snapshot").get(pk=key)
        self.assertNotEqual(original.created.microsecond, 0)  # timezone.now()'s
        url = reverse("admin:products_product_change", args=[key])
        form = form_values(self.client.get(url).content.decode(), "product_form")
        response = self.client.post(url, {**form, "price": "4.00"})
        self.assertEqual(response.status_code, 302, response.content[:2000])
        local = Product.objects.using("default").get(pk=key)
        self.assertEqual(local.created, original.created)
        self.assertIn(
            f"  ~ #{key} Snap 0: price: Decimal('10.00') -> Decimal('4.00')\n",
            run("shadow_status"),
        )

    def test_deleting_a_snapshot_row_leaves_a_tombstone(self):
        key = self.snapshot_product.pk
        url = reverse("admin:products_product_delete", args=[key])
        response = self.client.post(url, {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertTrue(Tombstone.objects.filter(object_id=key).exists())
        self.assertFalse(Overlay(Product).filter(pk=key).exists())
        self.assertEqual(raw_count("snapshot", Product, id=key), 1)

    def test_a_review_of_a_snapshot_product_can_be_added(self):
        form = {
            "product_id": self.snapshot_product.pk,
            "author_id": "",
            "rating": "4",
            "text": "From the admin",
            "created_0": "2026-01-02",
            "created_1": "10:00:00",
        }
        response = self.client.post(reverse("admin:reviews_review_add"), form)
        self.assertEqual(response.status_code, 302, response.content[:2000])
        self.assertEqual(raw_count("default", Review, text="From the admin"), 1)
        self.assertEqual(raw_count("snapshot", Review, text="From the admin"), 0)

    def test_unknown_and_malformed_ids_are_not_found(self):
        for key in ["999999", "abc", "99999999999999999999999"]:
            url = reverse("admin:products_product_change", args=[key])
            self.assertEqual(self.client.get(url).status_code, 302, key)


class OverlayAdminHistoryTests(SnapshotTestCase):
    def setUp(self):
        admin = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        self.client.force_login(admin)

    def test_history_pages_list_the_admin_log_of_a_snapshot_and_a_local_row(self):
        snapshot_product = Overlay(Product).get(name="Snap 0")
        local = Product.objects.create(name="Local kettle", price=Decimal("3"))
        review = Overlay(Review).filter(product_id=snapshot_product.pk)[0]
        for name, key in [("products_product", snapshot_product.pk),
                          ("products_product", local.pk),
                          ("reviews_review", review.pk)]:  # fmt: skip
            with self.subTest(model=name, key=key):
                page = self.client.get(reverse(f"admin:{name}_history", args=[key]))
                self.assertEqual(page.status_code, 200)
