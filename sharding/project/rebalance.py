"""Move whole logical shards between databases, without losing or duplicating a review.

Each move goes through recorded states, so a run killed at any point is
finished by the next one:

    planned  -> freeze writes to the logical shard, copy its rows to the
                target (replacing any half copy), verify count and checksum
    copied   -> switch the map to the target, and let writes in again
    switched -> wait until every process has the new map, then delete the
                rows from the source
    done

Reads never miss: until the switch they go to the source, which still has
every row; after it, to the target, which has them all, verified.
"""

import hashlib
import time
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Max

from reviewsite.reviews.models import Review

from . import shardmap
from .ids import SEQUENCE_BITS, SHARD_BITS
from .models import ShardMap, ShardMove

BATCH = 2000
LOGICAL_OF_ID = f"((id >> {SEQUENCE_BITS}) & {(1 << SHARD_BITS) - 1})"


@dataclass
class Plan:
    moves: list[ShardMove]
    rows_moved: int
    rows_total: int


def rows_per_logical(alias: str) -> Counter:
    """Reviews per logical shard on one database (the id carries the shard)."""
    table = connections[alias].ops.quote_name(Review._meta.db_table)
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT {LOGICAL_OF_ID}, COUNT(*) FROM {table} GROUP BY 1")
        return Counter(dict(cursor.fetchall()))


def plan(shards: list[str]) -> Plan:
    """Moves that give each database an equal number of logical shards.

    Logical shards, not rows, are balanced: new products hash evenly over
    them. Which ones move is chosen so that the rows move in the same share.
    """
    current = dict(ShardMap.objects.values_list("logical", "alias"))
    owned = {alias: [] for alias in shards}
    for logical, alias in current.items():
        owned.setdefault(alias, []).append(logical)
    rows = Counter()
    for alias in owned:
        if owned[alias]:
            rows.update(rows_per_logical(alias))
    # Equal shares; the odd ones go to those that hold more already.
    base, extra = divmod(len(current), len(shards))
    biggest_first = sorted(shards, key=lambda alias: -len(owned[alias]))
    quota = {alias: base + (i < extra) for i, alias in enumerate(biggest_first)}
    spare = []
    for alias, logical in owned.items():
        surplus = len(logical) - quota.get(alias, 0)  # a leaving alias gives all
        if surplus > 0:
            spare += give_up(logical, surplus, rows)
    moves = []
    for alias in shards:
        for _ in range(quota[alias] - len(owned[alias])):
            logical = spare.pop()
            moves.append(
                ShardMove(logical=logical, source=current[logical], target=alias)
            )
    moved = sum(rows[m.logical] for m in moves)
    return Plan(moves, moved, sum(rows.values()))


def give_up(logical: list[int], surplus: int, rows: Counter) -> list[int]:
    """``surplus`` of these logical shards, holding about their share of the rows.

    Biggest first while they fit in the share, then the smallest to make up the
    count: the rows moved match the logical shards moved, also when a few
    products hold most reviews.
    """
    share = sum(rows[n] for n in logical) * surplus / len(logical)
    chosen, moved = [], 0
    for n in sorted(logical, key=lambda n: -rows[n]):
        if len(chosen) < surplus and moved + rows[n] <= share:
            chosen.append(n)
            moved += rows[n]
    rest = sorted((n for n in logical if n not in set(chosen)), key=lambda n: rows[n])
    return chosen + rest[: surplus - len(chosen)]


def unfinished() -> list[ShardMove]:
    return list(ShardMove.objects.exclude(state=ShardMove.State.DONE))


def run(moves: list[ShardMove], grace: float, say=print) -> None:
    """Carry moves from their recorded states to done.

    All copies and switches first, then one wait for every process to see
    the new map, then the deletions from the sources.
    """
    for move in moves:
        if move.state == ShardMove.State.PLANNED:
            freeze(move.logical)
            move.rows, move.checksum = copy(move)
            move.versions = versions_of(move.target, move.logical)
            move.state = ShardMove.State.COPIED
            move.save()
        if move.state == ShardMove.State.COPIED:
            switch(move)
    switched = [m for m in moves if m.state == ShardMove.State.SWITCHED]
    if switched:
        say(f"  switched {len(switched)} logical shard(s); waiting {grace} s")
        time.sleep(grace)  # each process re-reads the map within this time
    for move in switched:
        delete_source(move, say)
    say(f"  deleted {len(switched)} logical shard(s) from their old databases")


def freeze(logical: int) -> None:
    """Refuse writes to the logical shard (writers read its row afresh)."""
    ShardMap.objects.filter(logical=logical).update(moving=True)


def source_rows(alias: str, logical: int):
    table = connections[alias].ops.quote_name(Review._meta.db_table)
    return Review.objects.using(alias).raw(
        f"SELECT * FROM {table} WHERE {LOGICAL_OF_ID} = %s ORDER BY id", [logical]
    )


def fingerprint(alias: str, logical: int) -> tuple[int, str]:
    """Row count and checksum of one logical shard's reviews on one database."""
    digest = hashlib.sha256()
    count = 0
    for r in source_rows(alias, logical).iterator():
        digest.update(repr(version(r)).encode())
        count += 1
    return count, digest.hexdigest()


def copy(move: ShardMove) -> tuple[int, str]:
    """Copy the logical shard to the target in one transaction, then verify it."""
    with transaction.atomic(using=move.target):
        delete_rows(move.target, move.logical)  # a half copy from a killed run
        batch = []
        for review in source_rows(move.source, move.logical).iterator():
            batch.append(review)
            if len(batch) == BATCH:
                Review.objects.using(move.target).bulk_create(batch)
                batch = []
        Review.objects.using(move.target).bulk_create(batch)
    source, target = (
        fingerprint(move.source, move.logical),
        fingerprint(move.target, move.logical),
    )
    if source != target:
        raise RuntimeError(
            f"Copy of logical shard {move.logical} differs: {source} != {target}"
        )
    return source


def switch(move: ShardMove) -> None:
    """Point the map at the target and let writes in, with the move's state."""
    with transaction.atomic(using="default"):
        version = ShardMap.objects.aggregate(v=Max("version"))["v"] + 1
        ShardMap.objects.filter(logical=move.logical).update(
            alias=move.target, moving=False, version=version
        )
        move.state = ShardMove.State.SWITCHED
        move.save()
    shardmap.forget()


def delete_source(move: ShardMove, say=print) -> None:
    """Delete the moved rows from the source, after carrying over late writes.

    A writer that read the map before the freeze may commit to the source
    after the copy. In one transaction on the source (SQLite's IMMEDIATE
    holds off its other writers; PostgreSQL's table lock does the same), rows
    the target lacks or has older are copied across, then all are deleted.
    Writers slower than the grace wait are still out of reach: keep the grace
    above the longest write transaction.
    """
    with transaction.atomic(using=move.source):
        lock_reviews(move.source)
        carried = carry_late_writes(move)
        delete_rows(move.source, move.logical)
    if carried:
        say(f"  carried {carried} late write(s) of logical shard {move.logical}")
    move.state = ShardMove.State.DONE
    move.save()


def lock_reviews(alias: str) -> None:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Review._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def carry_late_writes(move: ShardMove) -> int:
    """Apply to the target what reached the source after the copy: rows added,
    changed or deleted there since. A row the target has changed since the
    switch keeps the target's version, the later one."""
    copied = {int(key): digest for key, digest in move.versions.items()}
    source = {r.pk: r for r in source_rows(move.source, move.logical).iterator()}
    if {key: row_digest(r) for key, r in source.items()} == copied:
        return 0  # nothing was written to the source since the copy
    on_target = versions_of(move.target, move.logical)
    untouched = [
        key for key in {*copied, *source} if on_target.get(key) == copied.get(key)
    ]
    changed = [
        source[key]
        for key in untouched
        if key in source and row_digest(source[key]) != copied.get(key)
    ]
    deleted = [key for key in untouched if key in copied and key not in source]
    with transaction.atomic(using=move.target):
        stale = [r.pk for r in changed] + deleted
        Review.objects.using(move.target).filter(pk__in=stale).delete()
        Review.objects.using(move.target).bulk_create(changed)
    return len(changed) + len(deleted)


def versions_of(alias: str, logical: int) -> dict[int, str]:
    """Each row of one logical shard on one database, as a short digest."""
    return {r.pk: row_digest(r) for r in source_rows(alias, logical).iterator()}


def row_digest(r: Review) -> str:
    return hashlib.sha256(repr(version(r)).encode()).hexdigest()[:16]


def version(r: Review) -> tuple:
    return (r.pk, r.product_id, r.author_id, r.rating, r.text, r.created.isoformat())


def delete_rows(alias: str, logical: int) -> None:
    table = connections[alias].ops.quote_name(Review._meta.db_table)
    with connections[alias].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {LOGICAL_OF_ID} = %s", [logical])


def grace_seconds() -> float:
    return getattr(settings, "SHARD_MAP_GRACE_SECONDS", 2 * shardmap.MAP_CHECK_SECONDS)
