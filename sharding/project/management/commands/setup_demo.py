"""``setup_demo`` for sharding: the shards written side by side, one thread each.

A million reviews take about what SQLite itself takes to store them (see
benchmarks/): ids come from one reserved block instead of a query per review,
each shard has a writer thread with its own connection (SQLite works with
Python's lock released, so two cores insert at once) that loads the shard in
one transaction, with the per-product figures' triggers off and one recount
at the end; batches wait in short queues, so memory stays flat however many
reviews there are.
"""

import queue
import threading
from collections import defaultdict

from django.db import connections

from project import ids, productstats, shardmap
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.web.management.commands.setup_demo import Command as SetupDemo
from reviewsite.web.management.commands.setup_demo import insert_reviews

ROWS_PER_BATCH = 5_000


class Command(SetupDemo):
    def databases_filled_atomically(self) -> list[str]:
        # The shards are written by their own threads; undo_reviews() cleans
        # them up if the fill fails, and default's rollback undoes the rest.
        return ["default"]

    def populate(self, *args, **kwargs) -> None:
        self.remove_orphans()
        super().populate(*args, **kwargs)

    def remove_orphans(self) -> None:
        """Reviews with no product are what a killed run left on the shards."""
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
            with ShardWriters(owner.values()) as writers:
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


class ShardWriters:
    """A writer thread per shard, inserting the batches put() for it, all in
    one transaction. A failed writer stops them all (the others roll back):
    put() and the end of the ``with`` block raise its error."""

    QUEUED_BATCHES = 2  # per shard: memory stays flat, writers never starve

    def __init__(self, aliases) -> None:
        self.queues = {
            alias: queue.Queue(self.QUEUED_BATCHES) for alias in set(aliases)
        }
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self.write, args=(alias, q), daemon=True)
            for alias, q in self.queues.items()
        ]

    def write(self, alias: str, batches: queue.Queue) -> None:
        try:
            # The shard's whole load in one transaction, its per-product
            # figures counted once at the end rather than by a trigger per row.
            with productstats.suspended(alias):
                while (rows := batches.get()) is not None:
                    if self.errors:  # another shard failed: stop, roll back
                        raise RuntimeError("stopped: another shard failed")
                    insert_reviews(alias, rows, with_ids=True)
        except BaseException as error:
            self.errors.append(error)
            while batches.get() is not None:
                pass
        finally:
            connections[alias].close()  # this thread's own connection

    def put(self, alias: str, rows: list) -> None:
        self.raise_error()
        self.queues[alias].put(rows)

    def raise_error(self) -> None:
        if self.errors:
            raise self.errors[0]

    def __enter__(self) -> "ShardWriters":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for q in self.queues.values():
            q.put(None)
        for thread in self.threads:
            thread.join()
        if exc[0] is None:
            self.raise_error()
