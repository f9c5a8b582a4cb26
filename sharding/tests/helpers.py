import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import connections, transaction
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


def plan_a_swap(products) -> None:
    """The logical shards of two products on two databases trade places:
    two moves, recorded for `rebalance` to carry out."""
    from project.models import ShardMap, ShardMove

    a, b = (logical_shard(p.pk) for p in products)
    on = dict(ShardMap.objects.values_list("logical", "alias"))
    assert on[a] != on[b], "two products on one database"
    ShardMove.objects.bulk_create(
        [
            ShardMove(logical=a, source=on[a], target=on[b]),
            ShardMove(logical=b, source=on[b], target=on[a]),
        ]
    )


def one_per_database(products, aliases) -> list:
    """A product on each of ``aliases``, in that order."""
    first = {}
    for product in products:
        first.setdefault(shardmap.alias_of(logical_shard(product.pk)), product)
    return [first[alias] for alias in aliases]


def dead_process() -> str:
    """The lease's name for a process of this machine that no longer runs."""
    from project import lease

    host, boot, namespace, *_ = lease.this_process().split(":")
    return f"{host}:{boot}:{namespace}:999999999:1"


@contextmanager
def left_open(alias: str, work):
    """A transaction on ``alias``, in another thread, that has done ``work``
    and holds its locks until the block ends (a request stuck mid-way)."""
    done, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic(using=alias):
                work()
                done.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        if not done.wait(10):
            raise AssertionError(f"the transaction on {alias} did not start")
        yield
    finally:
        release.set()
        holder.join()
