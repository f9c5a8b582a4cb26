"""Routing: each review on the shard of its product, found from its id alone,
an error when a query names no shard, and every ORM entry point routed."""

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.test import TestCase

from project.models import LogicalShard, ProductStats
from project.shardmap import NoShardInformation, shard_for_product, shard_for_review
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, table_exists

from .helpers import home, where_is


class RouterDecisionTests(TestCase):
    databases = "__all__"

    def test_models_outside_reviews_and_their_figures_live_in_default(self):
        for model in apps.get_models():
            if model not in (Review, ProductStats, LogicalShard):
                with self.subTest(model=model._meta.label):
                    self.assertEqual(router.db_for_read(model), "default")
                    self.assertEqual(router.db_for_write(model), "default")

    def test_reviews_follow_their_product_or_their_id(self):
        review = Review(product_id=42)
        self.assertEqual(router.db_for_write(Review, instance=review), home(42))
        self.assertEqual(router.db_for_read(Review, product_id=42), home(42))
        saved = Review.objects.create(product_id=42, text="x")
        self.assertEqual(router.db_for_read(Review, review_id=saved.pk), home(42))

    def test_a_sharded_query_without_a_shard_is_an_error_not_default(self):
        with self.assertRaisesMessage(NoShardInformation, "Reviews are sharded"):
            Review.objects.count()
        with self.assertRaises(NoShardInformation):
            router.db_for_write(Review)

    def test_review_tables_and_their_figures_on_shards_only_and_nothing_else_there(
        self,
    ):
        for model in apps.get_models():
            for alias in connections:
                with self.subTest(model=model._meta.label, alias=alias):
                    on_shards = model in (Review, ProductStats, LogicalShard)
                    expected = (alias in settings.SHARDS) == on_shards
                    self.assertIs(router.allow_migrate_model(alias, model), expected)
                    self.assertIs(table_exists(alias, model), expected)

    def test_relations(self):
        one, other = Review(), Review()
        one._state.db = other._state.db = "shard1"
        self.assertTrue(router.allow_relation(one, other))
        other._state.db = "shard2"
        self.assertFalse(router.allow_relation(one, other))
        self.assertFalse(router.allow_relation(one, Product()))


class EntryPointTests(TestCase):
    """Each way of writing a review lands on its product's shard, and only there."""

    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.products = [make_product(f"P{n}") for n in range(12)]

    def assert_only_on_home(self, product, **where):
        self.assertEqual(where_is(**where), [home(product.pk)])

    def test_save_and_create(self):
        product = self.products[0]
        Review(product_id=product.pk, text="saved").save()
        Review.objects.create(product_id=product.pk, text="created")
        self.assert_only_on_home(product, text="saved")
        self.assert_only_on_home(product, text="created")

    def test_get_or_create_and_update_or_create(self):
        product = self.products[1]
        review, created = Review.objects.get_or_create(
            product_id=product.pk, text="goc", defaults={"rating": 2}
        )
        again, created_again = Review.objects.get_or_create(
            product_id=product.pk, text="goc"
        )
        self.assertEqual((created, created_again, again.pk), (True, False, review.pk))
        Review.objects.update_or_create(
            product_id=product.pk, text="goc", defaults={"rating": 5}
        )
        self.assert_only_on_home(product, text="goc", rating=5)

    def test_bulk_create_splits_a_batch_over_the_shards(self):
        reviews = [Review(product_id=p.pk, text=f"bulk {p.pk}") for p in self.products]
        Review.objects.bulk_create(reviews)
        for product in self.products:
            self.assert_only_on_home(product, text=f"bulk {product.pk}")
        self.assertGreater(len({home(p.pk) for p in self.products}), 1)

    def test_a_review_is_found_from_its_id_alone_with_one_query_on_one_shard(self):
        product = self.products[2]
        review = Review.objects.create(product_id=product.pk, text="by id")
        with self.assertNumQueries(1, using=home(product.pk)):
            self.assertEqual(Review.objects.get(pk=review.pk).text, "by id")
        for alias in set(settings.SHARDS) - {home(product.pk)}:
            with self.assertNumQueries(0, using=alias):
                Review.objects.get(pk=review.pk)

    def test_ids_carry_the_logical_shard_of_the_product(self):
        review = Review.objects.create(product_id=self.products[3].pk, text="x")
        self.assertEqual(
            shard_for_review(review.pk), shard_for_product(review.product_id)
        )

    def test_deleting_a_product_deletes_its_reviews_on_its_shard(self):
        product = self.products[4]
        Review.objects.create(product_id=product.pk, text="gone")
        with self.captureOnCommitCallbacks(using="default", execute=True):
            product.delete()  # its reviews go once the delete has committed
        self.assertEqual(where_is(text="gone"), [])


class NoShardMapTests(TestCase):
    databases = {"default"}

    def test_without_a_map_the_error_says_what_to_do(self):
        from project import shardmap
        from project.models import ShardMap

        ShardMap.objects.all().delete()
        shardmap.forget()
        self.addCleanup(shardmap.forget)
        with self.assertRaisesMessage(NoShardInformation, "setup_demo"):
            shardmap.alias_of(3)


class RoutingRefusalsTests(TestCase):
    """Where a query's shard cannot be told, or a save would split a review."""

    databases = "__all__"

    def test_reviews_of_two_products_combined_have_no_shard_hint(self):
        from project.shardmap import NoShardInformation
        from reviewsite.reviews.models import Review

        a, b = make_product("A"), make_product("B")
        either = Review.objects.filter(product_id=a.pk) | Review.objects.filter(
            product_id=b.pk
        )
        with self.assertRaises(NoShardInformation):
            list(either)
        both = Review.objects.filter(product_id=a.pk) | Review.objects.filter(
            product_id=a.pk
        )
        self.assertEqual(list(both), [])  # the same product: its shard

    def test_a_review_cannot_be_saved_under_a_product_of_another_logical_shard(self):
        from project.shardkeys import logical_shard
        from project.shardmap import ShardMismatch
        from reviewsite.reviews.models import Review

        home = make_product("Home")
        review = Review.objects.create(product_id=home.pk, text="Stays")
        away = next(
            p
            for p in (make_product(f"Away {n}") for n in range(50))
            if logical_shard(p.pk) != logical_shard(home.pk)
        )
        review.product_id = away.pk
        with self.assertRaises(ShardMismatch):
            review.save()
        # Nor behind save()'s back, by the shard itself: even to a product
        # of the same logical shard, since the id is not the product's.
        rows = Review.objects.filter(pk=review.pk)
        with (
            self.assertRaisesMessage(IntegrityError, "keeps its product"),
            transaction.atomic(using=shard_for_product(home.pk)),
        ):
            rows.update(product_id=away.pk)
        self.assertEqual(rows.get().product_id, home.pk)

    def test_a_map_naming_an_unknown_database_is_a_clear_error(self):
        from django.core.exceptions import ImproperlyConfigured

        from project import shardmap
        from project.models import ShardMap

        ShardMap.objects.filter(logical=7).update(alias="shard9", version=99)
        shardmap.forget()
        with self.assertRaisesMessage(ImproperlyConfigured, "shard9"):
            shardmap.databases()

    def test_hints_survive_an_empty_side_and_never_leak_to_the_parent(self):
        from reviewsite.reviews.models import Review

        a = Review.objects.filter(product_id=5)
        self.assertEqual((a | Review.objects.none())._hints, {"product_id": 5})
        self.assertEqual(a._hints, {"product_id": 5})
        a.filter(pk=9)
        self.assertEqual(a._hints, {"product_id": 5})  # the child's, not a's
