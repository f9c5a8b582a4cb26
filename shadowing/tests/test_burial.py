"""A deleted product's reviews are buried with it: a local one is kept in its
tombstone and put back, exactly as it was, when products are reset; a reset
that would bring back reviews of a product that cannot come back refuses
without --force. (Found by trying to break the burial.)"""

from decimal import Decimal

from django.core.management import CommandError
from django.utils import timezone

from project.deep_pages import FastOverlay
from project.overlay import Overlay
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import on_sqlite_only

from .helpers import SnapshotTestCase, publish, run, take_snapshot_elsewhere


class BurialTests(SnapshotTestCase):
    def test_a_restored_review_keeps_its_exact_time(self):
        """Django's JSON serializer writes milliseconds: not enough."""
        product = Overlay(Product).get(name="Snap 1")
        created = timezone.now().replace(microsecond=123456)
        mine = Review.objects.create(
            product_id=product.pk, text="Mine", created=created
        )
        edited = Overlay(Review).filter(product_id=product.pk).order_by("pk")[0]
        edited.created = edited.created.replace(microsecond=654321)
        edited.save()
        product.delete()
        run("shadow_reset", "products.product")
        self.assertEqual(Review.objects.get(pk=mine.pk).created, created)
        self.assertEqual(Review.objects.get(pk=edited.pk).created, edited.created)

    def test_reviews_of_a_deleted_local_product_are_not_brought_back_alone(self):
        added = Product.objects.create(name="Local one", price=Decimal("3"))
        review = Review.objects.create(product_id=added.pk, text="Of the local one")
        added.delete()
        with self.assertRaisesMessage(
            CommandError, "1 review(s) without their product"
        ):
            run("shadow_reset", "products.product")
        self.assertFalse(Overlay(Review).filter(pk=review.pk).exists())
        run("shadow_reset", "products.product", "--force")  # as asked: orphans
        self.assertTrue(Overlay(Review).filter(pk=review.pk).exists())

    def test_a_later_edit_of_a_buried_review_is_not_overwritten(self):
        """A review object read before its product was deleted and saved
        after (a shell, a form racing the delete): the later edit stays."""
        product = Overlay(Product).get(name="Snap 3")
        review = Overlay(Review).filter(product_id=product.pk).order_by("pk")[0]
        review.text = "first edit"
        review.save()
        held = Overlay(Review).get(pk=review.pk)
        product.delete()
        held.text = "later edit"
        held.save()
        run("shadow_reset", "products.product")
        self.assertEqual(Review.objects.get(pk=review.pk).text, "later edit")

    def test_the_plan_says_which_local_reviews_come_back_or_go(self):
        product = Overlay(Product).get(name="Snap 4")
        Review.objects.create(product_id=product.pk, text="Mine")
        product.delete()
        out = run("shadow_reset", "products.product", "--dry-run")
        self.assertIn("1 local review(s) kept with them come back", out)
        out = run("shadow_reset", "reviews.review", "--dry-run", "--force")
        self.assertIn("1 local review(s) kept in tombstones", out)


class ProductGoneFromProductionTests(SnapshotTestCase):
    def test_reviews_of_a_product_gone_from_the_new_snapshot_need_force(self):
        product = Overlay(Product).get(name="Snap 2")
        key = product.pk
        Review.objects.create(product_id=key, text="Mine")
        product.delete()
        publish()  # production again, less that product
        Review.objects.using("production").filter(product_id=key).delete()
        Product.objects.using("production").filter(pk=key).delete()
        run("take_snapshot")
        with self.assertRaisesMessage(
            CommandError, "1 review(s) without their product"
        ):
            run("shadow_reset", "products.product")


class ReusedOverlayTests(SnapshotTestCase):
    @on_sqlite_only  # elsewhere nothing is remembered
    def test_a_fast_overlay_asked_again_after_a_new_snapshot_counts_afresh(self):
        publish()  # production again (the test run flushed it), same snapshot
        edited = Overlay(Review).order_by("pk")[0]
        edited.text = "edited here"
        edited.save()  # its key is shadowed
        fast, core = FastOverlay(Review), Overlay(Review)
        self.assertEqual(fast.count(), core.count())
        Review.objects.using("production").filter(pk=edited.pk).delete()
        take_snapshot_elsewhere()
        expected = Overlay(Review).count()
        self.assertEqual(core.count(), expected)
        self.assertEqual(fast.count(), expected)
