from django.conf import settings

from project import shardmap
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.testing import raw_count


def home(product_id: int) -> str:
    """The shard a product's reviews belong on."""
    return shardmap.alias_of(logical_shard(product_id))


def where_is(**where) -> list[str]:
    """The shards holding rows that match, by SQL on each."""
    return [alias for alias in settings.SHARDS if raw_count(alias, Review, **where)]


def newest(row: tuple) -> tuple:
    """The order of the latest reviews, for a row of stored_reviews()."""
    return row[5], row[0]  # created, id


def stored_reviews() -> list[tuple]:
    """Every review on every shard, as plain tuples, sorted: for comparisons."""
    rows = []
    for alias in settings.SHARDS:
        rows += Review.objects.using(alias).values_list(
            "id", "product_id", "author_id", "rating", "text", "created"
        )
    return sorted(rows)
