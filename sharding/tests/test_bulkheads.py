"""Separate servers fail separately: a hung shard costs only its own share of
the fan-out, every shard connection has a timeout, a page whose shard is down
or late answers 503 naming it, and cross-shard pages reuse their connections."""

import contextlib
import os
import runpy
import signal
import socket
import sqlite3
import threading
import time
from collections import Counter
from unittest import mock

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import DatabaseError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.test import (
    RequestFactory,
    SimpleTestCase,
    TransactionTestCase,
    override_settings,
)
from django.urls import reverse

from project import fanout
from project.fanout import THREADS_PER_SHARD, on_every_shard
from project.timeouts import Deadlines, reading_a_page
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
                else:  # and statements of page reads: PageTimeoutTests
                    self.assertLessEqual(options["connect_timeout"], 5)

    def test_an_operators_options_are_kept(self):
        """The timeouts go beside what DATABASE_URL_SHARD0 says, not over it."""
        url = "postgres://u@h:5/db?options=-c%20search_path%3Dx&connect_timeout=30"
        with mock.patch.dict(os.environ, DATABASE_URL_SHARD0=url):
            from reviewsite.settings import database

            given = database("shard0", None)["OPTIONS"]
            project = runpy.run_path(str(settings.BASE_DIR / "project/settings.py"))
        options = project["DATABASES"]["shard0"]["OPTIONS"]
        self.assertEqual(options["options"], given["options"])
        self.assertEqual(options["connect_timeout"], given["connect_timeout"])

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


class PageTimeoutTests(TransactionTestCase):
    """On PostgreSQL a page's reads give up in time; nothing else does (the
    admin's delete of a product and its reviews, find_orphans, a move)."""

    databases = "__all__"

    def setUp(self):
        if connections["shard0"].vendor != "postgresql":
            self.skipTest("SQLite: a lock wait, for every connection")

    def slept(self, alias="shard0") -> bool:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.3)")
            return True
        except OperationalError:  # canceling statement due to statement timeout
            return False

    @override_settings(SHARD_STATEMENT_TIMEOUT_SECONDS=0.1)
    def test_only_page_reads_are_cut_short(self):
        self.assertTrue(self.slept())  # a command, a task
        token = reading_a_page.set(True)
        try:
            self.assertFalse(self.slept())  # a GET
            fan = on_every_shard(lambda alias: self.slept(alias))
            self.assertEqual(set(fan.results.values()), {False})
        finally:
            reading_a_page.reset(token)
        self.assertTrue(self.slept())  # the next POST, on the same connection
        fan = on_every_shard(lambda alias: self.slept(alias))
        self.assertEqual(set(fan.results.values()), {True})


class OverdueTests(TransactionTestCase):
    databases = "__all__"

    @override_settings(SHARD_TIMEOUT_SECONDS=0.3)
    def test_queries_still_queued_when_their_page_gives_up_never_run(self):
        """Ten pages at once on a hung shard: they fill its own threads (and
        only its own); the queries left queued are dropped, not run later."""
        release = threading.Event()
        self.addCleanup(release.set)
        started, after_release = [], []

        def query(alias):
            (after_release if release.is_set() else started).append(alias)
            release.wait(30)
            return alias

        barrier = threading.Barrier(10)

        def page():
            barrier.wait()
            on_every_shard(query, shards=["shard0"])

        pages = [threading.Thread(target=page) for _ in range(10)]
        for thread in pages:
            thread.start()
        for thread in pages:
            thread.join()
        release.set()
        time.sleep(0.5)
        self.assertLessEqual(len(started), THREADS_PER_SHARD)
        self.assertEqual(after_release, [])


class TroublePageTests(TransactionTestCase):
    databases = "__all__"

    def test_a_shard_missing_a_column_is_a_500_not_an_outage(self):
        """SQLite raises a bug ("no such column") as an OperationalError too."""
        review = make_review(make_product("Kettle"), text="On a shard")
        alias = home(review.product_id)
        if connections[alias].vendor != "sqlite":
            self.skipTest("PostgreSQL raises it as a ProgrammingError: a 500")
        with connections[alias].cursor() as cursor:
            cursor.execute("ALTER TABLE reviews_review RENAME COLUMN text TO body")
        self.addCleanup(self.rename_back, alias)
        self.client.raise_request_exception = False
        response = self.client.get(reverse("review", args=[review.pk]))
        self.assertEqual(response.status_code, 500)

    def rename_back(self, alias):
        with connections[alias].cursor() as cursor:
            cursor.execute("ALTER TABLE reviews_review RENAME COLUMN body TO text")

    def test_a_503_logs_the_error_behind_it(self):
        review = make_review(make_product("Kettle"), text="On a shard")
        alias = home(review.product_id)

        def down(execute, sql, params, many, context):
            raise OperationalError("FATAL: too many connections for role")

        with (
            self.assertLogs("project.middleware", "WARNING") as logs,
            connections[alias].execute_wrapper(down),
        ):
            response = self.client.get(reverse("review", args=[review.pk]))
        self.assertEqual(response.status_code, 503)
        self.assertIn("too many connections", logs.output[0])
        self.assertIn(alias, logs.output[0])


class FrozenServerTests(TransactionTestCase):
    """A server that freezes (stopped, its machine paused) keeps its connections
    open and never cancels its own statements: a page's read gives up all the
    same, and the page answers 503."""

    databases = "__all__"

    def setUp(self):
        if connections["shard0"].vendor != "postgresql":
            self.skipTest("PostgreSQL: SQLite has no server to freeze")
        self.review = make_review(make_product("Kettle"), text="On a shard")
        self.alias = home(self.review.product_id)

    def backend(self, alias) -> int:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def freeze(self, *pids) -> None:
        """Stop these server processes for ten seconds at most: a test that
        fails must not hang."""
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except PermissionError:
                self.skipTest("the PostgreSQL server runs as another user")
            thaw = threading.Timer(10, os.kill, (pid, signal.SIGCONT))
            thaw.start()
            self.addCleanup(thaw.cancel)
            self.addCleanup(os.kill, pid, signal.SIGCONT)
        self.addCleanup(connections[self.alias].close)  # cut: not reused

    @override_settings(SHARD_STATEMENT_TIMEOUT_SECONDS=0.2)
    def test_a_page_on_a_frozen_shard_answers_503_in_time(self):
        self.freeze(self.backend(self.alias))
        started = time.monotonic()
        response = self.client.get(reverse("review", args=[self.review.pk]))
        self.assertEqual(response.status_code, 503)
        self.assertLess(time.monotonic() - started, 0.2 + 2)
        self.assertContains(response, self.alias, status_code=503)

    @override_settings(SHARD_STATEMENT_TIMEOUT_SECONDS=0.2)
    def test_the_health_check_of_a_frozen_connection_gives_up_and_reconnects(self):
        frozen = self.backend(self.alias)
        self.freeze(frozen)
        connections[self.alias].close_if_unusable_or_obsolete()  # a request starts
        started = time.monotonic()
        response = self.client.get(reverse("review", args=[self.review.pk]))
        self.assertContains(response, "On a shard")  # from a new connection
        self.assertLess(time.monotonic() - started, 0.2 + 2)
        self.assertNotEqual(self.backend(self.alias), frozen)

    @override_settings(SHARD_STATEMENT_TIMEOUT_SECONDS=0.2)
    def test_the_health_check_at_a_requests_start_gives_up_too(self):
        """Django checks a connection that had an error when the next request
        starts (close_old_connections), before any page read: a server that
        froze meanwhile must not hold the worker there (BREAK-IT)."""
        connection = connections[self.alias]
        # An error that leaves the connection in doubt, as a cancelled read.
        with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
            cursor.execute("SELECT * FROM no_such_table")
        self.assertTrue(connection.errors_occurred)
        self.freeze(self.backend(self.alias))
        environ = RequestFactory().get(reverse("review", args=[self.review.pk])).environ
        started = time.monotonic()
        statuses = []
        WSGIHandler()(environ, lambda status, headers: statuses.append(status)).close()
        self.assertLess(time.monotonic() - started, 0.2 + 2)
        self.assertEqual(statuses, ["200 OK"])  # on a new connection

    @override_settings(SHARD_TIMEOUT_SECONDS=0.2, SHARD_STATEMENT_TIMEOUT_SECONDS=0.2)
    def test_a_frozen_shard_holds_the_fan_outs_threads_for_a_moment_only(self):
        # One thread a shard: the next page asks the connection frozen below,
        # not a new thread's (a pool starts one when none is idle yet).
        fanout.close_all()
        self.enterContext(mock.patch.object(fanout, "THREADS_PER_SHARD", 1))
        self.addCleanup(fanout.close_all)
        token = reading_a_page.set(True)
        self.addCleanup(reading_a_page.reset, token)
        on_every_shard(lambda alias: Review.objects.using(alias).count())
        with connections[self.alias].cursor() as cursor:  # the fan-out's own
            cursor.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            workers = [pid for (pid,) in cursor.fetchall()]
        self.freeze(*workers)
        fan = on_every_shard(lambda alias: Review.objects.using(alias).count())
        self.assertIn(self.alias, fan.failed)
        deadline = time.monotonic() + 0.2 + 2
        while fanout._overdue[self.alias] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(fanout._overdue[self.alias], 0)


class DeadlinesTests(SimpleTestCase):
    """The watchdog itself, on a socket pair: it cuts what is late, and a
    connection that broke meanwhile never stops it (BREAK-IT: psycopg's
    fileno() of a closed connection raised, and the thread died)."""

    class Driver:
        def __init__(self, sock):
            self.sock = sock

        def fileno(self):
            if self.sock is None:
                raise RuntimeError("the connection is closed")
            return self.sock.fileno()

    def test_a_broken_connection_never_stops_the_watch(self):
        deadlines = Deadlines()
        deadlines.CUT_AFTER_SECONDS = 0
        broken = self.Driver(None)
        ours, theirs = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        with deadlines.watch(broken, 0.05):
            time.sleep(0.2)  # cut, or tried
        ours.settimeout(5)
        with deadlines.watch(self.Driver(ours), 0.05):
            self.assertEqual(ours.recv(1), b"")  # cut: the end of the stream
        self.assertTrue(deadlines.thread.is_alive())
        self.assertEqual(deadlines.watched, {})


class KeptConnectionTests(TransactionTestCase):
    """A fan-out thread's query goes to its kept connection without a health
    check first (Django's SELECT 1 at each request's start: a second round
    trip on every shard of every page); a connection its server closed
    meanwhile is found by the query, and the query asked once more."""

    databases = "__all__"

    def setUp(self):
        fanout.close_all()
        self.addCleanup(fanout.close_all)
        for n in range(4):
            make_review(make_product(f"P{n}"), text=f"review {n}")
        token = reading_a_page.set(True)  # as a GET's fan-out does
        self.addCleanup(reading_a_page.reset, token)

    def count_everywhere(self) -> fanout.FanOut:
        return on_every_shard(lambda alias: Review.objects.using(alias).count())

    def test_no_health_check_before_a_fan_out_query(self):
        checks = []
        real = BaseDatabaseWrapper.close_if_health_check_failed

        def checking(connection):
            if connection.connection is not None and not connection.health_check_done:
                checks.append(connection.alias)  # would send SELECT 1
            return real(connection)

        self.count_everywhere()  # each thread opens its connection
        with mock.patch.object(
            BaseDatabaseWrapper, "close_if_health_check_failed", checking
        ):
            for _ in range(3):
                self.assertEqual(self.count_everywhere().failed, {})
        self.assertEqual([a for a in checks if a in settings.SHARDS], [])

    def test_a_connection_closed_by_its_server_is_replaced_at_once(self):
        if connections["shard0"].vendor != "postgresql":
            self.skipTest("PostgreSQL: a SQLite file has no server to close it")
        with mock.patch.object(fanout, "THREADS_PER_SHARD", 1):
            fanout.close_all()
            self.assertEqual(self.count_everywhere().failed, {})
            for alias in settings.SHARDS:  # the server ends each worker's session
                with connections[alias].cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()"
                    )
            fan = self.count_everywhere()
            fanout.close_all()
        self.assertEqual(fan.failed, {})
        self.assertEqual(sum(fan.results.values()), 4)

    def test_a_fan_out_that_is_no_page_read_is_never_asked_twice(self):
        """BREAK-IT: a query that wrote, then lost its connection, was run
        again. Only a page's reads are asked twice; anything else gets
        Django's health check first, and its error."""
        if connections["shard0"].vendor != "postgresql":
            self.skipTest("PostgreSQL: a SQLite file has no server to close it")
        reading_a_page.set(False)
        with connections["shard1"].cursor() as cursor:
            cursor.execute("CREATE TABLE counter (n int)")
            cursor.execute("INSERT INTO counter VALUES (0)")
        self.addCleanup(self.drop_counter)
        self.assertEqual(self.count_everywhere().failed, {})  # connections kept
        dying = []

        def bump(alias):
            with connections[alias].cursor() as cursor:
                cursor.execute("UPDATE counter SET n = n + 1")  # committed
                if not dying:
                    dying.append(alias)
                    cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        fan = on_every_shard(bump, shards=["shard1"])
        self.assertIn("shard1", fan.failed)
        with connections["shard1"].cursor() as cursor:
            cursor.execute("SELECT n FROM counter")
            self.assertEqual(cursor.fetchone()[0], 1)

    def drop_counter(self):
        with connections["shard1"].cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS counter")
