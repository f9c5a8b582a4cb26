"""Separate servers fail separately: a hung shard costs only its own share of
the fan-out, every shard connection has a timeout, a page whose shard is down
or late answers 503 naming it, and cross-shard pages reuse their connections."""

import os
import sqlite3
import threading
import time
from collections import Counter
from unittest import mock

from django.conf import settings
from django.db import OperationalError, connections
from django.db.backends.signals import connection_created
from django.test import TransactionTestCase, override_settings
from django.urls import reverse

from project.fanout import THREADS_PER_SHARD, on_every_shard
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import home


class BulkheadTests(TransactionTestCase):
    databases = "__all__"

    @override_settings(SHARD_TIMEOUT_SECONDS=0.2)
    def test_hung_shards_never_take_a_healthy_ones_threads(self):
        """Four hung shards, each allowed two overdue queries: eight threads
        held. A fifth database, healthy, answers every time all the same."""
        release = threading.Event()
        self.addCleanup(release.set)
        hung = list(settings.SHARDS)

        def query(alias):
            if alias in hung:
                release.wait(30)
            return alias

        for request in range(5):
            fan = on_every_shard(query, shards=[*hung, "default"])
            with self.subTest(request=request):
                self.assertEqual(fan.results, {"default": "default"})
                self.assertEqual(set(fan.failed), set(hung))


class ShardTimeoutTests(TransactionTestCase):
    databases = "__all__"

    def test_every_shard_connection_has_a_timeout(self):
        for alias in settings.SHARDS:
            options = settings.DATABASES[alias]["OPTIONS"]
            with self.subTest(alias=alias):
                if connections[alias].vendor == "sqlite":
                    self.assertLessEqual(options["timeout"], 5)
                else:
                    self.assertIn("statement_timeout=", options["options"])
                    self.assertLessEqual(options["connect_timeout"], 5)

    def test_a_review_on_a_down_shard_answers_503_naming_it(self):
        review = make_review(make_product("Kettle"), text="On a shard")
        alias = home(review.product_id)

        def down(execute, sql, params, many, context):
            raise OperationalError("server closed the connection unexpectedly")

        with connections[alias].execute_wrapper(down):
            response = self.client.get(reverse("review", args=[review.pk]))
        self.assertEqual(response.status_code, 503)
        self.assertContains(response, f"{alias} is not answering", status_code=503)
        self.assertEqual(response["Retry-After"], "5")

    def test_a_review_written_to_a_locked_sqlite_shard_answers_503_in_time(self):
        product = make_product("Kettle")
        alias = home(product.pk)
        if connections[alias].vendor != "sqlite":
            self.skipTest("SQLite's lock")
        locker = sqlite3.connect(connections[alias].settings_dict["NAME"])
        locker.isolation_level = None
        locker.execute("BEGIN IMMEDIATE")  # another writer, holding the lock
        connections[alias].close()  # reopened with the shortened timeout
        options = connections[alias].settings_dict["OPTIONS"]
        try:
            with mock.patch.dict(options, timeout=0.3):  # the setting, shortened
                started = time.monotonic()
                response = self.client.post(
                    reverse("write_review", args=[product.pk]),
                    {"text": "Locked out", "rating": "4"},
                )
                took = time.monotonic() - started
        finally:
            locker.execute("ROLLBACK")
            locker.close()
            connections[alias].close()
        self.assertContains(response, f"{alias} is not answering", status_code=503)
        self.assertLess(took, 2)
        self.assertFalse(Review.objects.filter(product_id=product.pk).exists())


class ConnectionReuseTests(TransactionTestCase):
    databases = "__all__"

    def setUp(self):
        for n in range(8):
            make_review(make_product(f"P{n}"), text=f"review {n}")

    def test_cross_shard_pages_reuse_their_shard_connections(self):
        """Each fan-out thread keeps its connection: a shard has at most as
        many as it has threads, however many pages ask it (before: one new
        connection per shard and page)."""
        opened = Counter()

        def count(sender, connection, **kwargs):
            if connection.alias in settings.SHARDS:
                opened[connection.alias] += 1

        connection_created.connect(count)
        self.addCleanup(connection_created.disconnect, count)
        pages = [reverse("latest_reviews"), reverse("products"), reverse("shards")]
        for _ in range(12):
            for url in pages:
                self.assertEqual(self.client.get(url).status_code, 200)
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                # The request thread's own, and the fan-out's threads'.
                self.assertLessEqual(opened[alias], 1 + THREADS_PER_SHARD)


class SeparateServersTests(TransactionTestCase):
    databases = "__all__"

    def test_each_shard_is_a_server_of_its_own(self):
        """In pg-sharding (scripts/pg-sharding.sh): one cluster per shard."""
        if not os.environ.get("SHARD_SERVERS"):
            self.skipTest("shards on one server here")
        clusters = {}
        for alias in ["default", *settings.SHARDS]:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT system_identifier FROM pg_control_system()")
                clusters[alias] = cursor.fetchone()[0]
        self.assertEqual(len(set(clusters.values())), len(clusters), clusters)
