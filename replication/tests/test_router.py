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


class WriteAttemptTests(SimpleTestCase):
    def test_a_write_that_failed_still_counts_so_it_is_never_retried(self):
        from django.db import OperationalError

        from project.pinning import QueryWatch

        reads = RequestReads(replica="replica1")

        def lost_answer(sql, params, many, context):
            raise OperationalError("server closed the connection unexpectedly")

        watch = QueryWatch(reads)
        context = {"connection": connections["default"]}
        with self.assertRaises(OperationalError):
            watch(lost_answer, "INSERT INTO x VALUES (1)", [], False, context)
        self.assertTrue(reads.wrote)  # the commit may have happened
        self.assertEqual(reads.failed, "default")


class OneEngineTests(SimpleTestCase):
    def test_a_primary_and_replicas_on_two_engines_are_refused(self):
        import os
        import subprocess
        import sys

        from django.conf import settings

        env = {**os.environ, "DATABASE_URL_DEFAULT": "postgres://u@127.0.0.1:1/x"}
        for alias in ["REPLICA1", "REPLICA2"]:
            env.pop(f"DATABASE_URL_{alias}", None)
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR,
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Put the primary and its replicas on one engine", result.stderr)
