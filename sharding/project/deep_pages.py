"""A deep page of an ordering merged across shards, reading about a page from
each shard instead of everything before it.

What it buys: rows ``start:stop`` of the merged order are otherwise the first
``stop`` rows of every shard, merged (the admin's page 1,000 of a million
reviews read 100,000 rows from each shard). Instead, in a few rounds:

1. guess where the page starts on each shard, from the shards' counts;
2. take the row found first in the order among the guesses, the pivot, and
   count exactly the rows before it on each shard: the pivot's place in the
   merged order, never past the page;
3. go on from there until few rows are left before the page; then read that
   many plus a page from each shard, from its place, and merge.

Each round is two fan-outs of cheap queries on an index: a one-row OFFSET
read and a count. A shard that fails is left out, named by ``ask``.

Few rounds are enough when the shards' rows interleave in the order, as
reviews spread by a hash of their product do. When one shard holds a stretch
of the order of its own (history loaded onto one shard), each round gains
only about 1/N of what is left, and the last read is larger: at most the rows
before the page, what reading every shard up to the page reads.
"""

import heapq
from collections.abc import Callable
from itertools import islice

from reviewsite.ordering import preceding, sort_key, sort_name

# Rounds before reading what is left: each leaves about the square root of
# the rows left before the page (the shards' rows interleave).
ROUNDS = 4
# Rows read at a guess, of which the first is used: with LIMIT 1 or 2 and a
# filter, SQLite sorts the whole table instead of walking the index.
PROBE = 5


def keys(rows, ordering: list[str]):
    """Rows as their sort values and key only: read from an index, no model."""
    names = dict.fromkeys([*map(sort_name, ordering), "pk"])
    return rows.values_list(*names, named=True)


def rows_at(ask: Callable, ordering: list[str], counts: dict, start: int, stop: int):
    """Rows ``start:stop`` of the shards' rows merged in ``ordering``.

    ``ask(query)`` runs ``query(alias, rows)`` on each shard's rows (a
    queryset in ``ordering``) and returns the answers by alias; ``counts``
    holds each shard's number of rows."""
    key, size = sort_key(ordering), stop - start
    placed = dict.fromkeys(counts, 0)  # each shard's rows known to come first
    for _ in range(ROUNDS):
        left = start - sum(placed.values())
        rest = {alias: counts[alias] - placed[alias] for alias in placed}
        total = sum(rest.values())
        if left <= size or left >= total:
            break
        guess = {alias: placed[alias] + left * n // total for alias, n in rest.items()}
        found = ask(
            lambda alias, rows, at=guess: list(
                keys(rows, ordering)[at[alias] :][:PROBE]
            )[:1]
        )
        if not (rows := [row for answer in found.values() for row in answer]):
            break
        pivot = min(rows, key=key)
        # A shard that fails is left out from here on, as on a first page:
        # the page is then one of the list of the others.
        placed = ask(
            lambda alias, rows, row=pivot: rows.filter(
                preceding(rows.model, ordering, row, alias)
            ).count()
        )
    # Below 0 only if rows were added meanwhile: the page is then a little off,
    # as a paginator's count and page are on one database.
    left = max(start - sum(placed.values()), 0)
    pages = ask(lambda alias, rows: list(rows[placed[alias] :][: left + size]))
    return list(islice(heapq.merge(*pages.values(), key=key), left, left + size))
