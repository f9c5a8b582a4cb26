"""Ask every shard at once: cross-shard pages and aggregates.

Each shard runs in its own thread, with a timeout; a shard that fails or is
late is reported, and the caller shows what the others returned.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="shard")


@dataclass
class FanOut:
    results: dict[str, object] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # alias: why


def on_every_shard(query: Callable[[str], object], shards=None) -> FanOut:
    """``query(alias)`` on each shard, in parallel, within SHARD_TIMEOUT_SECONDS."""
    shards = list(shards or settings.SHARDS)
    outcome = FanOut()
    if any(connections[alias].in_atomic_block for alias in shards):
        # Other threads cannot see what this thread's transaction wrote:
        # ask the shards from here, one after another.
        for alias in shards:
            _collect(outcome, alias, query)
        return outcome
    futures = {_pool.submit(query, alias): alias for alias in shards}
    done, late = wait(futures, timeout=settings.SHARD_TIMEOUT_SECONDS)
    for future in done:
        alias = futures[future]
        try:
            outcome.results[alias] = future.result()
        except Exception as error:  # any failure only degrades the page
            outcome.failed[alias] = f"{type(error).__name__}: {error}"
    for future in late:
        outcome.failed[futures[future]] = (
            f"no answer within {settings.SHARD_TIMEOUT_SECONDS} s"
        )
    return outcome


def _collect(outcome: FanOut, alias: str, query) -> None:
    try:
        outcome.results[alias] = query(alias)
    except Exception as error:
        outcome.failed[alias] = f"{type(error).__name__}: {error}"
