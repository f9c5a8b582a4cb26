"""The router's decisions: writes to the primary, reads to the request's replica
unless they must be fresh, migrations on the primary only."""

import time

from django.apps import apps
from django.db import connections, router, transaction
from django.test import SimpleTestCase, TransactionTestCase

from project import pinning, replicas
from project.pinning import Reads, use_primary
from project.replicas import Health
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review


def in_request(reads: Reads):
    """Run as if inside a request whose state is ``reads``."""
    token = pinning._reads.set(reads)
    return lambda: pinning._reads.reset(token)


class RouterDecisionTests(SimpleTestCase):
    def setUp(self):
        self.addCleanup(in_request(Reads(replica="replica2")))

    def test_every_model_is_written_to_the_primary(self):
        for model in apps.get_models():
            with self.subTest(model=model._meta.label):
                self.assertEqual(router.db_for_write(model), "default")

    def test_reads_go_to_the_replica_chosen_for_the_request(self):
        for model in [Product, Review, apps.get_model("contenttypes", "ContentType")]:
            with self.subTest(model=model._meta.label):
                self.assertEqual(router.db_for_read(model), "replica2")

    def test_a_client_reads_the_primary_until_the_replica_has_its_write(self):
        replicas._health["replica2"] = Health(lag=0.0, position=41, checked=time.time())
        pinning._reads.get().must_see = 42  # the primary's, at the client's write
        self.assertEqual(router.db_for_read(Review), "default")
        replicas._health["replica2"].position = 42  # replayed up to the write
        self.assertEqual(router.db_for_read(Review), "replica2")

    def test_a_write_of_this_context_is_placed_before_the_next_read(self):
        from unittest import mock

        replicas._health["replica2"] = Health(lag=0.0, position=41, checked=time.time())
        pinning.note_write()
        with mock.patch.object(pinning, "primary_position", return_value=42) as read:
            self.assertEqual(router.db_for_read(Review), "default")
            self.assertEqual(router.db_for_read(Review), "default")
        self.assertEqual(read.call_count, 1)  # once per write, not per read

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
        reset = in_request(Reads(replica="replica1"))
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

        from project.pinning import watch

        reads = Reads(replica="replica1")

        def lost_answer(sql, params, many, context):
            raise OperationalError("server closed the connection unexpectedly")

        context = {"connection": connections["default"]}
        reset = in_request(reads)
        try:
            with self.assertRaises(OperationalError):
                watch(lost_answer, "INSERT INTO x VALUES (1)", [], False, context)
        finally:
            reset()
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
