"""The router's decision for every model, and the tables that migrate creates."""

from django.apps import apps
from django.db import connections, router
from django.test import SimpleTestCase, TestCase

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import table_exists


def home_of(model) -> str:
    return "reviews" if model._meta.app_label == "reviews" else "default"


class RouterDecisionTests(SimpleTestCase):
    def test_every_model_is_read_and_written_in_its_home_database(self):
        for model in apps.get_models():
            with self.subTest(model=model._meta.label):
                self.assertEqual(router.db_for_read(model), home_of(model))
                self.assertEqual(router.db_for_write(model), home_of(model))

    def test_every_model_migrates_only_into_its_home_database(self):
        for model in apps.get_models():
            for alias in connections:
                with self.subTest(model=model._meta.label, alias=alias):
                    allowed = router.allow_migrate_model(alias, model)
                    self.assertIs(allowed, alias == home_of(model))

    def test_relations_inside_a_database_are_allowed(self):
        self.assertTrue(router.allow_relation(Review(), Review()))
        self.assertTrue(router.allow_relation(Product(), Product()))

    def test_relations_between_a_review_and_the_default_database_are_refused(self):
        user_model = apps.get_model("auth", "User")
        for other in [Product(), user_model()]:
            with self.subTest(other=type(other).__name__):
                self.assertFalse(router.allow_relation(Review(), other))
                self.assertFalse(router.allow_relation(other, Review()))


class SchemaTests(TestCase):
    databases = {"default", "reviews"}

    def test_each_table_exists_only_where_it_belongs(self):
        for model in apps.get_models():
            for alias in connections:
                with self.subTest(model=model._meta.label, alias=alias):
                    self.assertIs(table_exists(alias, model), alias == home_of(model))

    def test_reviews_database_holds_the_review_table_and_nothing_else(self):
        tables = set(connections["reviews"].introspection.table_names())
        self.assertEqual(tables, {"reviews_review", "django_migrations"})
