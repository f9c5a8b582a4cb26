"""The orphan sweep (reviewsite/reviews/orphans.py) over the shards: each
shard's own rows only, as the map gives them. During a move a logical shard's
reviews are on two shards for a while; read everywhere, an orphan would be
counted twice, and deleting it on the frozen side refused."""

from reviewsite.reviews.models import Review
from reviewsite.reviews.orphans import Sweep

from .shardmap import owned_rows, ownership


class ShardSweep(Sweep):
    def review_places(self) -> dict:
        return {
            alias: owned_rows(Review.objects.all(), alias, owned)
            for alias, owned in ownership().items()
        }
