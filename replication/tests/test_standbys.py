"""Replication on real PostgreSQL hot standbys (scripts/pg-replication.sh):
replica1 streams as fast as it can, replica2 applies WAL 3 s late on purpose.
The talk's story with real replication, and the lag read on the standby."""

import time
import unittest

from django.db import DatabaseError, connections
from django.test import Client, TransactionTestCase, override_settings
from django.urls import reverse

from project.replicas import forget, health, standby_reading
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product

ON_STANDBYS = all(connections[a].vendor == "postgresql" for a in connections)


def eventually(check, timeout: float = 30) -> bool:
    """Poll until ``check()`` holds: real replication takes real time. A standby
    that has not replayed the test database's creation yet cannot be opened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except DatabaseError:  # no database, or no tables, there yet
            connections.close_all()
        time.sleep(0.1)  # polling another server, not standing in for a clock
    return False


def replayed(alias: str, **where) -> bool:
    return eventually(lambda: Review.objects.using(alias).filter(**where).exists())


@unittest.skipUnless(ON_STANDBYS, "needs scripts/pg-replication.sh's standbys")
class StandbyTests(TransactionTestCase):
    databases = {"default", "replica1", "replica2"}

    def setUp(self):
        forget()
        self.product = make_product()
        self.assertTrue(replayed_product(self.product.pk))
        self.url = reverse("product", args=[self.product.pk])

    def tearDown(self):
        # The standbys' sessions would keep the test database from being
        # flushed and dropped on the primary's side of replication.
        for alias in ["replica1", "replica2"]:
            connections[alias].close()

    @override_settings(REPLICAS=["replica2"])  # the delayed standby, every time
    def test_a_writer_sees_her_review_at_once_others_after_replay(self):
        alice, bob = Client(), Client()
        write = reverse("write_review", args=[self.product.pk])
        response = alice.post(write, {"text": "Streamed", "rating": "5"})
        self.assertEqual(response.status_code, 302)
        self.assertContains(alice.get(self.url), "Streamed")  # from the primary
        self.assertNotContains(bob.get(self.url), "Streamed")  # replica2, 3 s late
        self.assertEqual(
            Review.objects.using("replica2").filter(text="Streamed").count(), 0
        )
        self.assertTrue(replayed("replica2", text="Streamed"))
        self.assertContains(bob.get(self.url), "Streamed")

    @override_settings(REPLICAS=["replica2"])
    def test_the_writer_is_back_on_the_standby_once_it_has_replayed_her_write(self):
        """By position: never a page without her review, and back on the
        standby one replay after her write (3 s), not after a fixed pin."""
        from django.conf import settings

        alice, bob = Client(), Client()
        write = reverse("write_review", args=[self.product.pk])
        wrote_at = time.monotonic()
        response = alice.post(write, {"text": "Positioned", "rating": "5"})
        self.assertEqual(response.status_code, 302)
        self.assertNotContains(bob.get(self.url), "Positioned")  # not replayed
        while time.monotonic() - wrote_at < 30:
            page = alice.get(self.url)
            self.assertContains(page, "Positioned")  # every page, from anywhere
            if page.context["reads_from"] == "replica2":
                break
            time.sleep(0.05)  # polling another server
        back_after = time.monotonic() - wrote_at
        self.assertEqual(page.context["reads_from"], "replica2")
        # Not before the standby's delay, and within a position reading of it.
        self.assertGreater(back_after, 2.5)
        self.assertLess(back_after, 3 + settings.REPLICA_CHECK_SECONDS + 1.5)
        self.assertContains(bob.get(self.url), "Positioned")

    def test_lag_is_read_on_the_standby(self):
        Review.objects.create(product_id=self.product.pk, text="Lagging")
        self.assertGreater(standby_lag_when_behind("replica2"), 0)
        self.assertTrue(replayed("replica1", text="Lagging"))
        self.assertTrue(replayed("replica2", text="Lagging"))
        caught_up = eventually(lambda: standby_reading("replica2")[0] == 0.0)
        self.assertTrue(caught_up)
        # The primary is no standby: it has neither lag nor replay position,
        # even when it went through crash recovery (pg_last_wal_replay_lsn()
        # then keeps the last LSN replayed, as CI once found after a kill).
        self.assertEqual(standby_reading("default"), (None, None))

    @override_settings(REPLICATION_MAX_LAG_SECONDS=0.5)
    def test_a_standby_behind_the_limit_is_skipped(self):
        Review.objects.create(product_id=self.product.pk, text="Pushes the lag")
        standby_lag_when_behind("replica2")
        self.assertFalse(health("replica2", fresh=True).usable)
        self.assertTrue(replayed("replica2", text="Pushes the lag"))
        # Usable again once it has replayed all it received (other commits,
        # the test run's own, may still be on their way for a moment).
        self.assertTrue(eventually(lambda: health("replica2", fresh=True).usable))


def replayed_product(pk: int) -> bool:
    from reviewsite.products.models import Product

    return eventually(
        lambda: all(
            Product.objects.using(alias).filter(pk=pk).exists()
            for alias in ["replica1", "replica2"]
        )
    )


def standby_lag_when_behind(alias: str, timeout: float = 10) -> float:
    """The standby's lag, once it has received WAL it has not replayed yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lag := standby_reading(alias)[0]:
            return lag
        time.sleep(0.05)  # polling another server
    return 0.0


@unittest.skipUnless(ON_STANDBYS, "needs scripts/pg-replication.sh's standbys")
@override_settings(
    REPLICAS=["replica1"],
    REPLICATION_MAX_LAG_SECONDS=1, REPLICA_CHECK_SECONDS=0.5,
    REPLICATION_PIN_SECONDS=1.5,  # just what replication.E001 asks
)  # fmt: skip
class StalledStandbyTests(TransactionTestCase):
    """A standby whose link stalls has replayed all it received: it is not
    caught up for that, and a writer whose pin has ended never reads it."""

    databases = {"default", "replica1", "replica2"}

    def tearDown(self):
        for alias in ["replica1", "replica2"]:
            connections[alias].close()

    def test_a_standby_that_stopped_receiving_is_not_called_caught_up(self):
        import os
        import signal

        from django.core.checks import run_checks

        self.assertFalse([e for e in run_checks() if e.id.startswith("replication")])
        forget()
        product = make_product()
        self.assertTrue(replayed_product(product.pk))
        with connections["replica1"].cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_wal_receiver")
            (receiver,) = cursor.fetchone()
        os.kill(receiver, signal.SIGSTOP)  # the link stalls, still 'streaming'
        try:
            alice = Client()
            response = alice.post(
                reverse("write_review", args=[product.pk]),
                {"text": "Stalled", "rating": "5"},
            )
            self.assertEqual(response.status_code, 302)
            time.sleep(2.5)  # the pin's bound passes: real time on another server
            lag, _ = standby_reading("replica1")
            page = alice.get(reverse("product", args=[product.pk]))
        finally:
            os.kill(receiver, signal.SIGCONT)
        self.assertGreater(lag, 1)  # was: 0.0, "caught up"
        self.assertContains(page, "Stalled")


@unittest.skipUnless(ON_STANDBYS, "needs scripts/pg-replication.sh's standbys")
@override_settings(REPLICAS=["replica2"])  # replays 3 s late
class WritesBesideTheOrmTests(TransactionTestCase):
    databases = {"default", "replica1", "replica2"}

    def setUp(self):
        from project import pinning

        forget()
        self.product = make_product()
        self.assertTrue(replayed_product(self.product.pk))
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION add_review(pid bigint) RETURNS void"
                " LANGUAGE sql AS $$ INSERT INTO reviews_review"
                " (product_id, rating, text, created)"
                " VALUES (pid, 5, 'Via a procedure', now()) $$"
            )
        pinning._reads.set(None)  # code that has written nothing yet

    def tearDown(self):
        for alias in ["replica1", "replica2"]:
            connections[alias].close()

    def test_a_write_composed_with_psycopg_sql_is_seen(self):
        from psycopg import sql

        insert = sql.SQL(
            "INSERT INTO {} (product_id, rating, text, created)"
            " VALUES (%s, 4, 'Composed', now())"
        ).format(sql.Identifier("reviews_review"))
        with connections["default"].cursor() as cursor:
            cursor.execute(insert, [self.product.pk])  # was: AttributeError
        self.assertTrue(Review.objects.filter(text="Composed").exists())

    def test_a_write_through_callproc_is_read_back_once_noted(self):
        """callproc bypasses Django's execute wrappers: note_write() says it."""
        from project.pinning import note_write

        with connections["default"].cursor() as cursor:
            cursor.callproc("add_review", [self.product.pk])
        note_write()
        found = Review.objects.filter(text="Via a procedure")
        self.assertEqual(found.db, "default")
        self.assertTrue(found.exists())
