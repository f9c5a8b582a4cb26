from django.conf import settings
from django.db import transaction
from django.db.models import F

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


def place(mapping: dict[int, str]) -> None:
    """Give each logical shard to a database, in the map and on the shards,
    before any review is written (no row is moved)."""
    from project import ids
    from project.models import LogicalShard, ShardMap

    for alias in settings.SHARDS:
        LogicalShard.objects.using(alias).all().delete()
        LogicalShard.objects.using(alias).bulk_create(
            LogicalShard(logical=n, last_ms=ids.now_ms())
            for n, holder in mapping.items()
            if holder == alias
        )
    with transaction.atomic(using="default"):
        for alias in set(mapping.values()):
            given = [n for n, holder in mapping.items() if holder == alias]
            ShardMap.objects.filter(logical__in=given).update(
                alias=alias, version=F("version") + 1
            )
    shardmap.forget()


def dealt_over(aliases: list[str]) -> dict[int, str]:
    """Logical shards round-robin over ``aliases``, as setup_demo deals them."""
    return {n: aliases[n % len(aliases)] for n in range(settings.LOGICAL_SHARDS)}
