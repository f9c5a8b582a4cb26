"""64-bit review ids that carry their logical shard, unique across all shards.

    bit 63     62 ........ 22   21 ...... 12   11 ...... 0
    0 (sign)   milliseconds     logical shard   sequence
               since EPOCH      (10 bits)       (12 bits)

Ids sort by time. Each logical shard's last id is kept in its ``LogicalShard``
row, on the shard that holds it, and moves with it (as Instagram made its
ids inside each shard): issuing one is a locked row on that shard, and no
other database, no shared clock, is asked. Within one millisecond a logical
shard has 4096 ids, then goes on in the next. A clock that reads earlier than
the last id (another server's clock ran fast, or this one went back) goes on
from the last id instead of failing: ids stay unique and increasing, and run
ahead of this clock by at most what the fastest clock set.
"""

import time
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Max

from .shardkeys import logical_shard

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_MS = int(EPOCH.timestamp() * 1000)
SHARD_BITS, SEQUENCE_BITS = 10, 12
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_MS = (1 << 41) - 1


class NotOwned(LookupError):
    """The database asked does not hold the logical shard (an old map)."""


def encode(ms: int, logical: int, sequence: int) -> int:
    fits = 0 <= ms <= MAX_MS and 0 <= logical < 1 << SHARD_BITS
    if not (fits and 0 <= sequence <= MAX_SEQUENCE):
        raise ValueError(f"cannot encode {ms=}, {logical=}, {sequence=}")
    return (ms << (SHARD_BITS + SEQUENCE_BITS)) | (logical << SEQUENCE_BITS) | sequence


def decode(review_id: int) -> tuple[int, int, int]:
    """(milliseconds since EPOCH, logical shard, sequence) of an id."""
    return (
        review_id >> (SHARD_BITS + SEQUENCE_BITS),
        (review_id >> SEQUENCE_BITS) & ((1 << SHARD_BITS) - 1),
        review_id & MAX_SEQUENCE,
    )


def shard_of(review_id: int) -> int:
    """The logical shard an id was issued for."""
    return decode(review_id)[1]


def now_ms() -> int:
    """Milliseconds since EPOCH, by the wall clock."""
    return int(time.time() * 1000) - EPOCH_MS


def allocate(logical: int, count: int) -> list[int]:
    """``count`` new ids of one logical shard, in increasing order, from its
    row on the database the cached map names; asked again after a move."""
    from .shardmap import ShardMoving, alias_of, refresh

    try:
        return issue(alias_of(logical), logical, count)
    except (NotOwned, ShardMoving):
        refresh(force=True)  # it may have moved since our copy of the map was read
    try:
        return issue(alias_of(logical), logical, count)
    except NotOwned as error:  # the map and the shards disagree, for now
        raise ShardMoving(f"Logical shard {logical} is moving: {error}.") from None


def issue(alias: str, logical: int, count: int) -> list[int]:
    """Ids from the logical shard's row on ``alias``, in one transaction there."""
    from .models import LogicalShard
    from .shardmap import ShardMoving

    with transaction.atomic(using=alias):
        shard = (
            LogicalShard.objects.using(alias)
            .select_for_update()
            .filter(logical=logical)
            .first()
        )
        if shard is None:
            raise NotOwned(f"{alias} does not hold logical shard {logical}")
        if shard.state != shard.State.OWNED:  # frozen here, or not open yet
            raise ShardMoving(f"Logical shard {logical} is moving; try again shortly.")
        ids = following(shard, count)
        LogicalShard.objects.using(alias).filter(logical=logical).update(
            last_ms=shard.last_ms, sequence=shard.sequence
        )
    return ids


def following(shard, count: int) -> list[int]:
    """The ``count`` ids after the shard's last one, advancing it in memory.

    Never before the last id, whatever the clock says; a full millisecond
    goes on in the next one rather than wait for the clock to get there.
    """
    ms = max(now_ms(), shard.last_ms)
    ids = []
    for _ in range(count):
        if ms > shard.last_ms:
            shard.last_ms, shard.sequence = ms, 0
        elif shard.sequence < MAX_SEQUENCE:
            shard.sequence += 1
        else:  # 4096 ids in this millisecond already
            shard.last_ms, shard.sequence = shard.last_ms + 1, 0
            ms = shard.last_ms
        ids.append(encode(shard.last_ms, shard.logical, shard.sequence))
    return ids


class Block:
    """Every id of the milliseconds ``start_ms`` to ``end_ms`` (inclusive), for
    every logical shard: reserved by ``reserve()``, handed out by ``take()``.

    The n-th id taken, whatever its logical shard, is in millisecond n // 4096
    of the block: each logical shard's ids grow in the order they are taken,
    and a database's ids nearly so (out of order only within a millisecond),
    so a bulk load appends to each shard's primary key instead of inserting
    all over it (which, past the page cache, makes SQLite several times
    slower).
    """

    def __init__(self, start_ms: int, end_ms: int) -> None:
        encode(start_ms, 0, 0), encode(end_ms, 0, 0)  # refuse what ids cannot hold
        self.start_ms, self.end_ms = start_ms, end_ms
        self.taken = 0
        self.last = [(-1, -1)] * (1 << SHARD_BITS)  # (ms, sequence) per logical

    def take(self, logical: int) -> int:
        """The next id of a logical shard: increasing, like allocate()'s."""
        ms = self.start_ms + (self.taken >> SEQUENCE_BITS)
        if ms > self.end_ms:
            raise ValueError(f"the block's {self.taken} ids are all taken")
        self.taken += 1
        last_ms, sequence = self.last[logical]
        # At most 4096 ids in a millisecond in all: the sequence fits.
        sequence = sequence + 1 if last_ms == ms else 0
        self.last[logical] = ms, sequence
        # encode() without its checks, which reserve() made for the block.
        return (ms << SHARD_BITS | logical) << SEQUENCE_BITS | sequence

    def id_range(self) -> tuple[int, int]:
        """The lowest and highest id the block can hold (to undo a load)."""
        return encode(self.start_ms, 0, 0), encode(
            self.end_ms, (1 << SHARD_BITS) - 1, MAX_SEQUENCE
        )


def reserve(count: int) -> Block:
    """Ids for ``count`` new reviews, however they fall over the logical shards.

    Whole milliseconds for every logical shard, after every id issued on any
    shard and ending now if the clocks allow (later, never waiting, if a fast
    clock issued ids ahead of ours). Each shard's load marks the block issued
    with ``claim()``, in its own transaction.
    """
    from .models import LogicalShard
    from .shardmap import databases

    milliseconds = max(1, -(-count // (MAX_SEQUENCE + 1)))
    last = max(
        LogicalShard.objects.using(alias).aggregate(last=Max("last_ms"))["last"] or 0
        for alias in databases()
    )
    end = max(now_ms(), last + milliseconds)
    return Block(end - milliseconds + 1, end)


def claim(block: Block, alias: str, logicals: list[int]) -> None:
    """Inside a shard's load transaction: check that ``alias`` owns the
    logical shards the load writes, and mark the block's ids issued on them;
    refuse if one of them moved, or issued an id in the block, since."""
    from .models import LogicalShard

    rows = (
        LogicalShard.objects.using(alias)
        .select_for_update()
        .filter(logical__in=logicals, state=LogicalShard.State.OWNED)
    )
    if rows.count() != len(set(logicals)):
        raise ValueError(f"{alias} no longer owns every logical shard of the load")
    if rows.filter(last_ms__gte=block.start_ms).exists():
        raise ValueError(f"ids were issued on {alias} since the block was reserved")
    rows.update(last_ms=block.end_ms, sequence=MAX_SEQUENCE)


def assign_ids(reviews) -> None:
    """REVIEW_ID_ALLOCATOR: ids for new reviews, from their product's logical
    shard, on its shard: a review write reads no other database."""
    by_shard: dict[int, list] = {}
    for review in reviews:
        by_shard.setdefault(logical_shard(review.product_id), []).append(review)
    for logical, group in by_shard.items():
        for review, review_id in zip(group, allocate(logical, len(group)), strict=True):
            review.pk = review_id
