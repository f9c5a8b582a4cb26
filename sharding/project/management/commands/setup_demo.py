"""``setup_demo`` for sharding: reviews written to the shards in per-shard batches."""

from collections import defaultdict

from project import shardmap
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.web.management.commands.setup_demo import Command as SetupDemo


class Command(SetupDemo):
    def save_reviews(self, reviews: list[Review]) -> None:
        """Each shard's share of the batch in one INSERT batch on that shard.

        The map is read once for the batch: setup_demo is the only writer.
        """
        by_shard = defaultdict(list)
        for review in reviews:
            by_shard[shardmap.alias_of(logical_shard(review.product_id))].append(review)
        for alias, group in by_shard.items():
            Review.objects.using(alias).bulk_create(group)
