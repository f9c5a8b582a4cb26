"""Ask every shard at once: cross-shard pages and aggregates.

Each shard runs in its own thread, with a timeout; a shard that fails or is
late is reported, and the caller shows what the others returned.

Bulkheads: each shard has threads of its own, so a hung shard holds only its
own threads, never a healthy shard's. Each thread keeps its connection to its
shard from one page to the next, as a request thread keeps its own.
"""

import gc
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connections

from . import shardmap, timeouts

# Threads per shard: as many pages as may ask one shard at once.
THREADS_PER_SHARD = 8
_pools: dict[str, ThreadPoolExecutor] = {}
# A shard that hangs keeps its threads until its queries end. Once this many
# of its queries are overdue (past the timeout, still running), it is not asked
# again until one ends; a query still queued when its page gives up is
# dropped. Pages that arrive together may still fill its threads: its own.
MAX_OVERDUE_PER_SHARD = 2
_overdue: Counter = Counter()
_overdue_lock = threading.Lock()


@dataclass
class FanOut:
    results: dict[str, object] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # alias: why


def on_every_shard(
    query: Callable[[str], object], shards=None, timeout: float | None = None
) -> FanOut:
    """``query(alias)`` on each shard, in parallel, within ``timeout`` seconds
    (SHARD_TIMEOUT_SECONDS unless a page has spent some of it already).

    Asked by a page (a GET), the query is a read, and may be asked twice on
    a shard whose kept connection turns out closed (``_in_worker``)."""
    shards = shardmap.databases() if shards is None else list(shards)
    outcome = FanOut()
    if any(connections[alias].in_atomic_block for alias in shards):
        # Other threads cannot see what this thread's transaction wrote:
        # ask the shards from here, one after another.
        for alias in shards:
            _collect(outcome, alias, query)
        return outcome
    if timeout is None:
        timeout = settings.SHARD_TIMEOUT_SECONDS
    futures = {}
    for alias in shards:
        if _overdue[alias] >= MAX_OVERDUE_PER_SHARD:
            outcome.failed[alias] = "still busy with earlier queries"
        else:
            futures[_submit(query, alias)] = alias
    done, late = wait(futures, timeout=timeout)
    for future in done:
        alias = futures[future]
        try:
            outcome.results[alias] = future.result()
        except Exception as error:  # any failure only degrades the page
            outcome.failed[alias] = f"{type(error).__name__}: {error}"
    for future in late:
        alias = futures[future]
        outcome.failed[alias] = f"no answer within {round(timeout, 2)} s"
        if not future.cancel():  # still queued: nobody waits for it any more
            _count_overdue(future, alias)
    return outcome


def _submit(query, alias: str) -> Future:
    # Connections are per thread: the caller's execute wrappers (the activity
    # panel's) are installed on the worker's connection too.
    wrappers = list(connections[alias].execute_wrappers)
    page = timeouts.reading_a_page.get()  # a page's reads give up in time
    return _pool_of(alias).submit(_in_worker, query, alias, wrappers, page)


def close_all() -> None:
    """End the fan-out's threads, and with them their connections (before a
    test run drops the databases they are connected to)."""
    with _overdue_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True)
    gc.collect()  # a thread's connections close when they are collected


def _pool_of(alias: str) -> ThreadPoolExecutor:
    with _overdue_lock:
        if alias not in _pools:
            _pools[alias] = ThreadPoolExecutor(
                THREADS_PER_SHARD, thread_name_prefix=f"shard-{alias}"
            )
        return _pools[alias]


def _count_overdue(future: Future, alias: str) -> None:
    """Count the query against its shard until it ends."""

    def ended(_: Future) -> None:
        with _overdue_lock:
            _overdue[alias] -= 1

    with _overdue_lock:
        _overdue[alias] += 1
    future.add_done_callback(ended)  # at once if it ended in the meantime


def _in_worker(query, alias: str, wrappers: list, page: bool) -> object:
    timeouts.reading_a_page.set(page)
    connection = connections[alias]
    # What a request's start and end do for a request thread: drop the
    # connection if it failed, or outlived CONN_MAX_AGE; otherwise reuse it.
    connection.close_if_unusable_or_obsolete()
    kept, started = connection.connection is not None, time.monotonic()
    # A page's read goes without the health check's SELECT 1 first (a round
    # trip more on every shard of every page): a kept connection that its
    # server closed meanwhile fails at once, and the read, which may be done
    # twice, is asked once more. Anything else is checked first, as Django does.
    connection.health_check_done = page
    try:
        return _ask(query, alias, connection, wrappers)
    except DatabaseError:
        at_once = time.monotonic() - started < settings.SHARD_STATEMENT_TIMEOUT_SECONDS
        if page and kept and at_once:
            connection.close_if_unusable_or_obsolete()  # drops it if broken
            if connection.connection is None:
                return _ask(query, alias, connection, wrappers)
        raise
    finally:
        connection.close_if_unusable_or_obsolete()


def _ask(query, alias: str, connection, wrappers: list) -> object:
    with ExitStack() as stack:
        for wrapper in wrappers:
            stack.enter_context(connection.execute_wrapper(wrapper))
        return query(alias)


def _collect(outcome: FanOut, alias: str, query) -> None:
    try:
        outcome.results[alias] = query(alias)
    except Exception as error:
        outcome.failed[alias] = f"{type(error).__name__}: {error}"
