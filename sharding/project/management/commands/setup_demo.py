"""``setup_demo`` for sharding: the shards written side by side, one thread each.

Ids come from one block reserved for the whole load, not a query per review,
and each shard is loaded by a writer thread (project/bulkload.py). A million
reviews over four shards: 11 to 13 s, 1.6 to 2 times raw executemany of the
same rows, about 110 MB (benchmarks/README.rst).
"""

from collections import defaultdict

from project import ids, shardmap
from project.bulkload import ShardWriters
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.web.management.commands.setup_demo import Command as SetupDemo

ROWS_PER_BATCH = 5_000


class Command(SetupDemo):
    def databases_filled_atomically(self) -> list[str]:
        # The shards are written by their own threads, each in a transaction
        # that any failure rolls back; undo_reviews() removes what a shard had
        # committed if another's commit then failed; default's rollback undoes
        # the rest.
        return ["default"]

    def populate(self, *args, **kwargs) -> None:
        self.remove_orphans()
        super().populate(*args, **kwargs)

    def remove_orphans(self) -> None:
        """Reviews with no product are what a killed run left on the shards.

        populate() runs only when default has no product (has_data()), so
        every review on a shard then has none: all of them go.
        """
        for alias in shardmap.databases():
            deleted, _ = Review.objects.using(alias).all().delete()
            if deleted:
                self.step(f"Removed {deleted} reviews a stopped run left on {alias}")

    def save_reviews(self, batches, count, progress) -> None:
        """Each shard's rows, numbered from one reserved block of ids, queued
        for the shard's writer thread in batches of ROWS_PER_BATCH."""
        block = ids.reserve(count)
        owner = {
            logical: alias
            for alias, owned in shardmap.ownership().items()
            for logical in owned
        }
        home = {}  # product id -> (logical shard, database): hashed once each
        pending = defaultdict(list)
        try:
            with ShardWriters(owner, block) as writers:
                for batch in batches:
                    for row in batch:
                        if (found := home.get(row[0])) is None:
                            logical = logical_shard(row[0])
                            found = home[row[0]] = logical, owner[logical]
                        logical, alias = found
                        rows = pending[alias]
                        rows.append((block.take(logical), *row))
                        if len(rows) == ROWS_PER_BATCH:
                            writers.put(alias, pending.pop(alias))
                    progress.update(len(batch))
                for alias, rows in pending.items():
                    writers.put(alias, rows)
        except BaseException:
            self.undo_reviews(block, set(owner.values()))
            raise

    def undo_reviews(self, block: ids.Block, aliases: set[str]) -> None:
        """Delete what this run wrote: every review numbered from its block."""
        low, high = block.id_range()
        for alias in sorted(aliases):
            Review.objects.using(alias).filter(pk__range=(low, high)).delete()
