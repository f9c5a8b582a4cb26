"""Move whole logical shards between databases, without losing or doubling a review.

Each move is recorded in ``default`` before every step that changes another
database, and every step can be done again: a run stopped anywhere, between
any two commits, is finished by the next, which decides from what the
databases hold, not from what the record hoped.

    planned   freeze the logical shard on the source (its fence now refuses
              writes there), copy its rows and id sequence to the target in
              one transaction, verify count and checksum
    copied    switch the map to the target; open the target to writes
    switched  once every process has the new map: record the deletion,
    deleting  then delete the rows from the source with its claim on them
    done

Reads never miss: until the switch they go to the source, which has every
row; after it, to the target, which has them all, verified. Writes to one
logical shard are refused only while it is copied, and a run that fails lets
them in again. One run at a time (``project/lease.py``).
"""

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Max

from reviewsite.reviews.models import Review

from . import shardmap
from .ids import SEQUENCE_BITS, SHARD_BITS
from .lease import Lease, LeaseLost
from .models import LogicalShard, ShardMap, ShardMove

BATCH = 2000
LOGICAL_OF_ID = f"((id >> {SEQUENCE_BITS}) & {(1 << SHARD_BITS) - 1})"
State = ShardMove.State
Held = LogicalShard.State


class MoveRefused(RuntimeError):
    """The databases hold something a move must not overwrite: stop, keep all."""


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


def newest_per_logical(alias: str) -> dict[int, int]:
    """The newest review id of each logical shard on one database."""
    table = connections[alias].ops.quote_name(Review._meta.db_table)
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT {LOGICAL_OF_ID}, MAX(id) FROM {table} GROUP BY 1")
        return dict(cursor.fetchall())


def plan(shards: list[str]) -> Plan:
    """Moves that give each database an equal number of logical shards, and
    none to a database that is not in ``shards`` (one being drained).

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
    return list(ShardMove.objects.exclude(state=State.DONE))


def run(moves: list[ShardMove], lease: Lease, say=print) -> None:
    """Carry moves from their recorded states to done.

    Every copy and switch first, then one wait for every process to see the
    new map, then the deletions from the sources. On an error, the logical
    shards this run froze but did not switch take writes again before it is
    raised.
    """
    try:
        for move in moves:
            if move.state in (State.PLANNED, State.COPIED):
                if map_names(move.logical) != move.source:
                    record(move, State.DONE, lease)  # another run moved it
                    continue
                copy(move, lease)
            if move.state == State.COPIED:
                switch(move, lease)
            open_target(move, lease)
    except LeaseLost:
        raise  # another run is moving them now: what is frozen is its to thaw
    except Exception:
        thaw([m for m in moves if m.state in (State.PLANNED, State.COPIED)], lease)
        raise
    leaving = [m for m in moves if m.state in (State.SWITCHED, State.DELETING)]
    if leaving:
        grace = settings.SHARD_MAP_GRACE_SECONDS
        say(f"  switched {len(leaving)} logical shard(s); waiting {grace} s")
        time.sleep(grace)  # each process re-reads the map within this time
    for move in leaving:
        delete_source(move, lease)
    say(f"  deleted {len(leaving)} logical shard(s) from their old databases")


def copy(move: ShardMove, lease: Lease) -> None:
    """Freeze the source, copy, verify, record: planned -> copied."""
    freeze(move, lease)
    count, checksum = copy_rows(move, lease)
    if fingerprint(move.target, move.logical) != (count, checksum):
        raise MoveRefused(f"The copy of logical shard {move.logical} differs.")
    record(move, State.COPIED, lease, rows=count, checksum=checksum)


def freeze(move: ShardMove, lease: Lease) -> None:
    """The source refuses writes to the logical shard, frozen with this run's
    epoch (a freeze left by an earlier, stopped run is taken over; a later
    run's never is)."""
    with on_shard(move.source):
        LogicalShard.objects.using(move.source).filter(
            logical=move.logical,
            state__in=[Held.OWNED, Held.FROZEN],
            epoch__lte=lease.epoch,
        ).update(state=Held.FROZEN, epoch=lease.epoch)
        check_frozen_by(move.source, move.logical, lease)


def check_frozen_by(alias: str, logical: int, lease: Lease) -> None:
    there = held(alias, logical)
    if there is None or (there.state, there.epoch) != (Held.FROZEN, lease.epoch):
        raise MoveRefused(
            f"Logical shard {logical} on {alias} is "
            f"{there.state if there else 'absent'}, not frozen by this run."
        )


def copy_rows(move: ShardMove, lease: Lease) -> tuple[int, str]:
    """The frozen source's rows and id sequence, onto the target in one
    transaction there, replacing what an earlier attempt left. The source's
    count and checksum, taken from the same read."""
    digest, count = hashlib.sha256(), 0
    source = held(move.source, move.logical)
    with on_shard(move.target):
        here = held(move.target, move.logical, lock=True)
        if here is not None and (here.state == Held.OWNED or here.epoch > lease.epoch):
            raise MoveRefused(f"{move.target} holds logical shard {move.logical}.")
        LogicalShard.objects.using(move.target).filter(logical=move.logical).delete()
        LogicalShard.objects.using(move.target).create(
            logical=move.logical,
            state=Held.MOVING,  # lets this transaction past the target's fence
            epoch=lease.epoch,
            last_ms=source.last_ms,
            sequence=source.sequence,
        )
        delete_rows(move.target, move.logical)
        batch = []
        for review in source_rows(move.source, move.logical).iterator():
            digest.update(repr(version(review)).encode())
            count += 1
            batch.append(review)
            if len(batch) == BATCH:
                Review.objects.using(move.target).bulk_create(batch)
                batch = []
        Review.objects.using(move.target).bulk_create(batch)
        check_frozen_by(move.source, move.logical, lease)  # still, after the read
        set_state(move.target, move.logical, Held.INCOMING)
    return count, digest.hexdigest()


def switch(move: ShardMove, lease: Lease) -> None:
    """Point the map at the target, recorded with it: copied -> switched."""
    with transaction.atomic(using="default"):
        version = ShardMap.objects.aggregate(v=Max("version"))["v"] + 1
        ShardMap.objects.filter(logical=move.logical).update(
            alias=move.target, version=version
        )
        record(move, State.SWITCHED, lease)
    shardmap.forget()


def open_target(move: ShardMove, lease: Lease) -> None:
    """Once the map points at it, the target takes writes (incoming -> owned)."""
    if move.state in (State.SWITCHED, State.DELETING, State.DONE):
        with on_shard(move.target):
            LogicalShard.objects.using(move.target).filter(
                logical=move.logical, state=Held.INCOMING, epoch__lte=lease.epoch
            ).update(state=Held.OWNED)
            there = held(move.target, move.logical)
        if there is None or there.state != Held.OWNED:
            raise MoveRefused(
                f"Logical shard {move.logical} on {move.target} is "
                f"{there.state if there else 'absent'}, not owned after its switch."
            )


def delete_source(move: ShardMove, lease: Lease) -> None:
    """Delete the moved rows from the source, with its claim on the logical
    shard, in one transaction: switched -> deleting -> done.

    Done again after a stop, it finds nothing to delete. The source stays
    frozen until then, so no write can have reached it since the copy.
    Never from the database the map names: if a later move brought the
    logical shard back there, this one has nothing left to do.
    """
    record(move, State.DELETING, lease)
    if map_names(move.logical) != move.source:
        with on_shard(move.source):
            there = held(move.source, move.logical, lock=True)
            if there is not None:
                if there.state != Held.FROZEN or there.epoch > lease.epoch:
                    raise MoveRefused(
                        f"{move.source} holds logical shard {move.logical} as "
                        f"{there.state} after its switch: nothing deleted."
                    )
                set_state(move.source, move.logical, Held.MOVING)
                delete_rows(move.source, move.logical)
                LogicalShard.objects.using(move.source).filter(
                    logical=move.logical
                ).delete()
    record(move, State.DONE, lease)


def thaw(moves: list[ShardMove], lease: Lease) -> None:
    """After an error: let writes in again where this run froze them and did
    not switch, if ``default`` confirms the map still names the source. If it
    cannot be asked, they stay frozen: the next run finishes them."""
    for move in moves:
        try:
            if map_names(move.logical) == move.source:
                LogicalShard.objects.using(move.source).filter(
                    logical=move.logical, state=Held.FROZEN, epoch=lease.epoch
                ).update(state=Held.OWNED)
        except Exception:
            continue  # the first error is the one to report


def map_names(logical: int) -> str:
    """The database the map in ``default`` names for a logical shard, now."""
    return ShardMap.objects.get(logical=logical).alias


@contextmanager
def on_shard(alias: str) -> Iterator[None]:
    """A transaction on a shard that waits for a lock only so long: a site
    transaction left open on a logical shard (PostgreSQL's fence holds its
    row FOR SHARE) fails this run, which thaws what it froze, instead of
    stalling it past its lease. SQLite's busy timeout bounds it there."""
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "postgresql":
            seconds = settings.SHARD_MOVE_LOCK_TIMEOUT_SECONDS
            with connections[alias].cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
        yield


def record(move: ShardMove, state: str, lease: Lease, **fields) -> None:
    """The move's new state in ``default``, while the lease is still ours."""
    with transaction.atomic(using="default"):
        lease.renew()
        for name, value in fields.items():
            setattr(move, name, value)
        ShardMove.objects.filter(pk=move.pk).update(state=state, **fields)
    move.state = state


def held(alias: str, logical: int, lock: bool = False) -> LogicalShard | None:
    """The database's row for a logical shard (None: it holds none of it)."""
    rows = LogicalShard.objects.using(alias).filter(logical=logical)
    return (rows.select_for_update() if lock else rows).first()


def set_state(alias: str, logical: int, state: str) -> None:
    """Set the logical shard's state on ``alias``, where it holds it."""
    with on_shard(alias):
        LogicalShard.objects.using(alias).filter(logical=logical).update(state=state)
        now = held(alias, logical)
    if now is None or now.state != state:
        raise MoveRefused(
            f"Logical shard {logical} on {alias} is "
            f"{now.state if now else 'absent'}, not {state}."
        )


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


def version(r: Review) -> tuple:
    return (r.pk, r.product_id, r.author_id, r.rating, r.text, r.created.isoformat())


def delete_rows(alias: str, logical: int) -> None:
    table = connections[alias].ops.quote_name(Review._meta.db_table)
    with connections[alias].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {LOGICAL_OF_ID} = %s", [logical])
