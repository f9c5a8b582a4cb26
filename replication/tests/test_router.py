"""The router's decisions: writes to the primary, reads to the request's replica
unless they must be fresh, migrations on the primary only."""

from django.apps import apps
from django.db import connections, router, transaction
from django.test import SimpleTestCase, TransactionTestCase

from project import pinning
from project.pinning import RequestReads, use_primary
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review


def in_request(reads: RequestReads):
    """Run as if inside a request whose state is ``reads``."""
    token = pinning._request.set(reads)
    return lambda: pinning._request.reset(token)


class RouterDecisionTests(SimpleTestCase):
    def setUp(self):
        self.addCleanup(in_request(RequestReads(replica="replica2")))

    def test_every_model_is_written_to_the_primary(self):
        for model in apps.get_models():
            with self.subTest(model=model._meta.label):
                self.assertEqual(router.db_for_write(model), "default")

    def test_reads_go_to_the_replica_chosen_for_the_request(self):
        for model in [Product, Review, apps.get_model("auth", "User")]:
            with self.subTest(model=model._meta.label):
                self.assertEqual(router.db_for_read(model), "replica2")

    def test_a_pinned_client_reads_from_the_primary(self):
        pinning._request.get().pinned_at_start = True
        self.assertEqual(router.db_for_read(Review), "default")

    def test_use_primary_sends_reads_to_the_primary(self):
        with use_primary():
            self.assertEqual(router.db_for_read(Review), "default")
        self.assertEqual(router.db_for_read(Review), "replica2")

    def test_only_the_primary_is_migrated(self):
        for model in apps.get_models():
            for alias in connections:
                with self.subTest(model=model._meta.label, alias=alias):
                    allowed = router.allow_migrate_model(alias, model)
                    self.assertIs(allowed, alias == "default")

    def test_relations_inside_the_replicated_set_are_allowed(self):
        review, product = Review(), Product()
        for a, b in [("default", "replica1"), ("replica1", "replica2")]:
            review._state.db, product._state.db = a, b
            with self.subTest(dbs=(a, b)):
                self.assertTrue(router.allow_relation(review, product))


class TransactionReadTests(TransactionTestCase):
    databases = {"default", "replica1", "replica2"}

    def test_reads_inside_a_transaction_go_to_the_primary(self):
        reset = in_request(RequestReads(replica="replica1"))
        try:
            self.assertEqual(router.db_for_read(Review), "replica1")
            with transaction.atomic():
                self.assertEqual(router.db_for_read(Review), "default")
                with self.assertNumQueries(1, using="default"):
                    list(Review.objects.select_for_update())
            self.assertEqual(router.db_for_read(Review), "replica1")
        finally:
            reset()
