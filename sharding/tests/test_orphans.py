"""Orphan reviews on the shards: found on the shard that holds them."""

from io import StringIO

from django.core import checks
from django.core.management import CommandError, call_command
from django.test import TestCase, TransactionTestCase

from project import lease, rebalance, shardmap
from project.models import ShardMove
from project.shardkeys import logical_shard
from project.shardmap import shard_for_product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count

MISSING = 424242


class ShardOrphanTests(TestCase):
    databases = "__all__"

    def test_an_orphan_is_found_and_removed_on_its_shard_only(self):
        kept = make_review(make_product(), text="Of a product that exists")
        Review.objects.create(product_id=424242, text="Orphan")
        shard = shard_for_product(424242)
        out = StringIO()
        with self.assertRaises(CommandError):
            call_command("find_orphans", stdout=out)
        self.assertIn(f"{shard}: 1 orphan reviews", out.getvalue())
        self.assertEqual(out.getvalue().count("orphan reviews"), 1)  # no other shard
        found = checks.run_checks(databases=["default", shard], tags=["database"])
        self.assertEqual([m.id for m in found], ["reviews.W001"])
        call_command("find_orphans", "--delete", stdout=StringIO())
        self.assertEqual(raw_count(shard, Review, text="Orphan"), 0)
        self.assertEqual(Review.objects.filter(pk=kept.pk).count(), 1)


class SweepDuringAMoveTests(TransactionTestCase):
    """Switched, in the grace before the source's rows are deleted (source
    frozen, target owned): the orphan is on both databases."""

    databases = "__all__"

    def setUp(self):
        Review.objects.create(product_id=MISSING, text="Orphan")
        logical = logical_shard(MISSING)
        self.source = shardmap.alias_of(logical)
        self.target = next(a for a in shardmap.configured() if a != self.source)
        self.move = ShardMove.objects.create(
            logical=logical, source=self.source, target=self.target
        )
        self.lease = lease.Lease()
        self.lease.acquire()
        self.addCleanup(self.lease.release)
        rebalance.copy(self.move, self.lease)
        rebalance.switch(self.move, self.lease)
        rebalance.open_target(self.move, self.lease)

    def test_the_orphan_is_counted_once_and_removed_where_it_is_owned(self):
        with self.assertRaisesMessage(CommandError, "Found 1 orphan reviews"):
            call_command("find_orphans", stdout=StringIO())
        call_command("find_orphans", "--delete", stdout=StringIO())
        self.assertEqual(raw_count(self.target, Review), 0)
        rebalance.delete_source(self.move, self.lease)  # the move still ends
        self.assertEqual(raw_count(self.source, Review), 0)
