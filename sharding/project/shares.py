"""A cross-shard page asks each shard for its share of the page, not a page.

What it buys: the newest 21 reviews of 16 shards are otherwise 21 from each,
336 rows read, converted and made models of, for 21 shown. Asked first for
its share (21 / 16, and SPARE more), each shard returns 5: 80 rows
(benchmarks/README.rst, benchmark 8).

A shard that returned all it was asked for, every row of which made the page,
may hold more of it: that shard alone is asked again, for the rest of a page
after its last row. So the page is the one whole pages from the shards that
answered give. It costs that second round trip when one shard holds a run of
the newest rows (a burst of reviews of one product); with rows spread evenly,
on about one page in five at 4 shards, one in ten at 16 (tests/test_shares.py).

A shard that fails in the second round is left out with all its rows, as in
the first; the others are then held against the page without them, and any
all of whose share now makes the page is asked for the rest in turn.
"""

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings

from .fanout import on_every_shard

SPARE = 3  # rows more than an even share: fewer second rounds
# The second round has what is left of the page's time, and at least this
# share of SHARD_TIMEOUT_SECONDS: after a first round that waited for a hung
# shard, the healthy ones still answer the rest. A shard that needs longer
# for it is left out, and named, as a late one is.
SECOND_ROUND_AT_LEAST = 0.1


@dataclass
class Page:
    rows: list = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # alias: why


def newest(
    older_than: Callable, before, count: int, page_of: Callable, shards, key
) -> Page:
    """The ``count`` newest rows of all ``shards`` older than ``before``.

    ``older_than(before)``: a queryset of the rows older than ``before`` (all,
    if None), newest first; ``page_of(rows, alias, limit)``: the first
    ``limit`` of them on a shard, a list; ``key(row)``: its place in that
    order, newest largest, as ``before`` gives it.
    """
    # The page's time, for every round: a late shard costs it only once.
    timeout = settings.SHARD_TIMEOUT_SECONDS
    shards, deadline = list(shards), time.monotonic() + timeout
    share = min(count, -(-count // max(len(shards), 1)) + SPARE)
    first = older_than(before)  # one queryset for every shard
    fan = on_every_shard(lambda alias: page_of(first, alias, share), shards)
    pages, failed = fan.results, dict(fan.failed)
    rows = merged(pages, count, key)
    done = set()  # asked for the rest of the page: nothing more to ask
    while more := [
        alias
        for alias, page in pages.items()
        if share < count
        and alias not in done
        and len(page) == share  # all it was asked for: it may hold more
        and (len(rows) < count or key(page[-1]) >= key(rows[-1]))
    ]:
        after = {alias: key(pages[alias][-1]) for alias in more}
        rest = on_every_shard(
            # after=after: a thread that starts late still reads this round's.
            lambda alias, after=after: page_of(
                older_than(after[alias]), alias, count - share
            ),
            more,
            timeout=max(deadline - time.monotonic(), SECOND_ROUND_AT_LEAST * timeout),
        )
        done.update(more)
        for alias, why in rest.failed.items():
            del pages[alias]  # left out, as in the first round
            failed[alias] = why
        for alias, page in rest.results.items():
            pages[alias] = pages[alias] + page
        rows = merged(pages, count, key)
    return Page(rows, failed)


def merged(pages: dict, count: int, key) -> list:
    """The ``count`` newest rows of the shards' pages, each newest first."""
    return list(islice(heapq.merge(*pages.values(), key=key, reverse=True), count))
