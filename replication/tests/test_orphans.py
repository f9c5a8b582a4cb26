"""Orphan reviews in replication: looked for on the primary, never on a
replica (that may still hold the deleted product)."""

from io import StringIO

from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connections

from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count

from .helpers import ReplicatedTestCase, replicate


class PrimaryOrphanTests(ReplicatedTestCase):
    def test_an_orphan_of_a_product_the_replicas_still_hold_is_found(self):
        product = make_product()
        make_review(product, text="Orphaned by a race")
        replicate()
        with connections[
            "default"
        ].cursor() as cursor:  # a delete that lost its cascade
            cursor.execute("DELETE FROM products_product WHERE id = %s", [product.pk])
        with (
            self.assertNumQueries(0, using="replica1"),
            self.assertNumQueries(0, using="replica2"),
            self.assertRaises(CommandError),
        ):
            call_command("find_orphans", stdout=StringIO())
        found = checks.run_checks(databases=["default"], tags=["database"])
        self.assertEqual([m.id for m in found], ["reviews.W001"])
        call_command("find_orphans", "--delete", stdout=StringIO())
        self.assertEqual(raw_count("default", Review, text="Orphaned by a race"), 0)
