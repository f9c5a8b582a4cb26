"""Orphan reviews through the overlay: a review, local or from the snapshot,
whose product the overlay no longer shows, is found, and removed (a snapshot
review by a tombstone: the snapshot is never written)."""

from io import StringIO

from django.core import checks
from django.core.management import CommandError, call_command

from project.overlay import Overlay, bury
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review

from .helpers import SnapshotTestCase


class OverlayOrphanTests(SnapshotTestCase):
    def setUp(self):
        self.product = Overlay(Product).get(name="Snap 1")
        self.snapshot_reviews = {
            r.pk for r in Overlay(Review).filter(product_id=self.product.pk)
        }
        bury(Product, [self.product.pk])  # hidden, its reviews left: an orphan-maker
        Review.objects.create(product_id=424242, text="Local orphan")

    def test_both_sides_are_swept_and_the_check_warns(self):
        out = StringIO()
        with self.assertRaises(CommandError):
            call_command("find_orphans", stdout=out)
        self.assertIn("local: 1 orphan reviews", out.getvalue())
        self.assertIn(
            f"snapshot: {len(self.snapshot_reviews)} orphan reviews", out.getvalue()
        )
        found = checks.run_checks(databases=["default", "snapshot"], tags=["database"])
        self.assertEqual([m.id for m in found], ["reviews.W001", "reviews.W001"])

    def test_delete_removes_them_from_the_overlay_and_leaves_the_snapshot_alone(self):
        call_command("find_orphans", "--delete", stdout=StringIO())
        self.assertFalse(Overlay(Review).filter(product_id=self.product.pk).exists())
        self.assertFalse(Overlay(Review).filter(text="Local orphan").exists())
        on_snapshot = Review.objects.using("snapshot").filter(
            pk__in=self.snapshot_reviews
        )
        self.assertEqual(on_snapshot.count(), len(self.snapshot_reviews))  # untouched
        call_command("find_orphans", stdout=StringIO())  # passes now


class ResetAfterSweepTests(SnapshotTestCase):
    """A snapshot orphan removed by the sweep is buried as its product's delete
    would have buried it: resetting products brings it back with them."""

    def test_resetting_products_brings_back_every_review_of_a_deleted_one(self):
        product = Overlay(Product).get(name="Snap 1")
        key = product.pk
        texts = {r.text for r in Overlay(Review).filter(product_id=key)}
        product.delete()  # its snapshot reviews are buried with it
        # Production gets a review of it; the developer takes a new snapshot.
        Review.objects.using("production").create(product_id=key, text="Newer")
        self.addCleanup(Review.objects.using("production").filter(text="Newer").delete)
        call_command("take_snapshot", stdout=StringIO())
        call_command("find_orphans", "--delete", stdout=StringIO())  # buries it
        self.assertFalse(Overlay(Review).filter(product_id=key).exists())
        call_command("shadow_reset", "products.product", stdout=StringIO())
        self.assertTrue(Overlay(Product).filter(pk=key).exists())
        back = {r.text for r in Overlay(Review).filter(product_id=key)}
        self.assertEqual(back, texts | {"Newer"})

    def test_reviews_of_a_deleted_user_are_kept(self):
        from django.contrib.auth import get_user_model

        author = get_user_model().objects.create_user("leaving")
        product = Overlay(Product).get(name="Snap 2")
        review = Review.objects.create(product_id=product.pk, author_id=author.pk)
        author.delete()
        call_command("find_orphans", "--delete", stdout=StringIO())
        self.assertTrue(Overlay(Review).filter(pk=review.pk).exists())
