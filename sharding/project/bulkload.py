"""Loading many reviews at once: a writer thread per shard.

Each thread has its own connection and loads its shard in one transaction,
with the per-product figures' triggers suspended and one recount at the end.
SQLite works with Python's lock released while it runs a statement, so two
cores insert at once while the main thread makes rows. Batches wait in short
queues: memory stays flat however many reviews there are. All or nothing per
shard: if anything fails, in any thread, every shard rolls back.
"""

import queue
import threading

from django.db import connections

from reviewsite.web.management.commands.setup_demo import insert_reviews

from . import fence, ids, productstats


class ShardWriters:
    """``with ShardWriters(owner, block) as writers: writers.put(alias, rows)``.

    ``owner`` is the map (logical shard: database) the rows were sorted by;
    they carry ids taken from ``block`` (``ids.reserve()``). In its load's
    transaction each writer checks that its database still owns its logical
    shards and marks the block issued there (``ids.claim()``); then the
    fence, checked once for all, and the figures' triggers rest until the
    commit.

    A failure, in a writer or in the ``with`` block, stops every writer before
    it commits; put() and the end of the block raise the first error.
    """

    QUEUED_BATCHES = 2  # per shard: memory stays flat, writers never starve

    def __init__(self, owner: dict[int, str], block: ids.Block) -> None:
        self.block = block
        self.logicals: dict[str, list[int]] = {}
        for logical, alias in owner.items():
            self.logicals.setdefault(alias, []).append(logical)
        self.queues = {
            alias: queue.Queue(self.QUEUED_BATCHES) for alias in self.logicals
        }
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self.write, args=(alias, q), daemon=True)
            for alias, q in self.queues.items()
        ]

    def write(self, alias: str, batches: queue.Queue) -> None:
        rows = ()
        try:
            with productstats.suspended(alias):
                ids.claim(self.block, alias, self.logicals[alias])
                with fence.suspended(alias):
                    while (rows := batches.get()) is not None:
                        self.stop_if_failed()
                        insert_reviews(alias, rows, with_ids=True)
                    self.stop_if_failed()  # the last moment to roll back
        except BaseException as error:
            self.errors.append(error)
            while rows is not None:  # let put() and __exit__ go on
                rows = batches.get()
        finally:
            connections[alias].close()  # this thread's own connection

    def stop_if_failed(self) -> None:
        if self.errors:
            raise RolledBack("stopped: the load failed elsewhere")

    def put(self, alias: str, rows: list) -> None:
        if self.errors:
            raise self.errors[0]
        self.queues[alias].put(rows)

    def __enter__(self) -> "ShardWriters":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc is not None:
            self.errors.append(exc)  # the writers roll back, not commit
        for q in self.queues.values():
            q.put(None)
        for thread in self.threads:
            thread.join()
        if exc is None and self.errors:
            raise self.errors[0]


class RolledBack(RuntimeError):
    """A shard's load was rolled back because another part of it failed."""
