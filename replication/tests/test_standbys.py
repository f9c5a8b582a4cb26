"""Replication on real PostgreSQL hot standbys (scripts/pg-replication.sh):
replica1 streams as fast as it can, replica2 applies WAL 3 s late on purpose.
The talk's story with real replication, and the lag read on the standby."""

import time
import unittest

from django.db import DatabaseError, connections
from django.test import Client, TransactionTestCase, override_settings
from django.urls import reverse

from project.replicas import forget, health, standby_lag
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

    def test_lag_is_read_on_the_standby(self):
        Review.objects.create(product_id=self.product.pk, text="Lagging")
        self.assertGreater(standby_lag_when_behind("replica2"), 0)
        self.assertTrue(replayed("replica1", text="Lagging"))
        self.assertTrue(replayed("replica2", text="Lagging"))
        self.assertTrue(eventually(lambda: standby_lag("replica2") == 0.0))  # caught up
        self.assertIsNone(standby_lag("default"))  # the primary is no standby

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
        if lag := standby_lag(alias):
            return lag
        time.sleep(0.05)  # polling another server
    return 0.0
