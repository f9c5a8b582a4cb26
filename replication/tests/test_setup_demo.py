"""setup_demo fills the primary and copies it to the replicas."""

from io import StringIO

from django.core.management import call_command
from django.db import router
from django.test import SimpleTestCase, TransactionTestCase

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import on_sqlite_only, raw_count

from .helpers import ALL, REPLICAS

SMALL = ["--products", "3", "--users", "2", "--reviews", "25"]


def setup_demo(*args):
    out = StringIO()
    call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


@on_sqlite_only  # copies with `replicate`
class SetupDemoTests(TransactionTestCase):
    databases = ALL

    def test_primary_is_filled_and_every_replica_gets_the_same_rows(self):
        out = setup_demo(*SMALL)
        for alias in ["default", *REPLICAS]:
            with self.subTest(alias=alias):
                self.assertEqual(raw_count(alias, Product), 3)
                self.assertEqual(raw_count(alias, Review), 25)
        self.assertIn("copied primary to replica1", out)
        self.assertIn("replica2     3 products, 3 users, 25 reviews", out)

    def test_second_run_neither_duplicates_nor_fails(self):
        setup_demo(*SMALL)
        self.assertIn("already there", setup_demo(*SMALL))
        for alias in ["default", *REPLICAS]:
            self.assertEqual(raw_count(alias, Review), 25)


class SessionRoutingTests(SimpleTestCase):
    def test_sessions_are_read_from_the_primary(self):
        from django.contrib.sessions.models import Session

        self.assertEqual(router.db_for_read(Session), "default")
