"""Orphan reviews on the shards: found on the shard that holds them."""

from io import StringIO

from django.core import checks
from django.core.management import CommandError, call_command
from django.test import TestCase

from project.shardmap import shard_for_product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count


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
