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
