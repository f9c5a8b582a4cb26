"""64-bit review ids that carry their logical shard, unique across all shards.

    bit 63     62 ........ 22   21 ...... 12   11 ...... 0
    0 (sign)   milliseconds     logical shard   sequence
               since EPOCH      (10 bits)       (12 bits)

Ids sort by time. The sequence of each logical shard is kept in ``default``
and advanced in a locked row, so threads and processes never hand out the
same id; within one millisecond a logical shard has 4096 ids, then waits for
the next millisecond. A clock that went back behind the last id is refused.
"""

import time
from datetime import UTC, datetime

from django.db import transaction

from .shardkeys import logical_shard

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_MS = int(EPOCH.timestamp() * 1000)
SHARD_BITS, SEQUENCE_BITS = 10, 12
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_MS = (1 << 41) - 1


class ClockWentBackwards(RuntimeError):
    """The clock reads earlier than the last id issued: ids would repeat."""


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
    """``count`` new ids of one logical shard, in increasing order."""
    from .models import IdSequence

    with transaction.atomic(using="default"):
        state, _ = IdSequence.objects.select_for_update().get_or_create(logical=logical)
        ms = now_ms()
        if ms < state.last_ms:
            raise ClockWentBackwards(
                f"the clock reads {state.last_ms - ms} ms before the last id issued"
            )
        ids = []
        for _ in range(count):
            if ms > state.last_ms:
                state.last_ms, state.sequence = ms, 0
            elif state.sequence < MAX_SEQUENCE:
                state.sequence += 1
            else:  # 4096 ids in this millisecond already: wait for the next one
                ms = wait_past(state.last_ms)
                state.last_ms, state.sequence = ms, 0
            ids.append(encode(state.last_ms, logical, state.sequence))
        state.save(update_fields=["last_ms", "sequence"])
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

    The block is the last milliseconds before now, and after every id already
    issued: no other id can be in it, and later allocate() calls, which start
    after its end, see a clock that kept going. 4096 ids per millisecond.
    """
    from .models import IdSequence

    milliseconds = max(1, -(-count // (MAX_SEQUENCE + 1)))
    with transaction.atomic(using="default"):
        IdSequence.objects.bulk_create(
            [IdSequence(logical=n) for n in range(1 << SHARD_BITS)],
            ignore_conflicts=True,
        )
        rows = IdSequence.objects.select_for_update()
        last = max(state.last_ms for state in rows)
        if (ms := now_ms()) < last:
            raise ClockWentBackwards(
                f"the clock reads {last - ms} ms before the last id issued"
            )
        # The block must start after the last id issued and end by now.
        end = wait_past(last + milliseconds - 1) if ms - milliseconds < last else ms
        rows.update(last_ms=end, sequence=MAX_SEQUENCE)
    return Block(end - milliseconds + 1, end)


def wait_past(ms: int) -> int:
    """Spin until the clock is past ``ms``; return the new millisecond."""
    while (now := now_ms()) <= ms:
        time.sleep(0.0001)
    return now


def assign_ids(reviews) -> None:
    """REVIEW_ID_ALLOCATOR: ids for new reviews, from their product's logical shard."""
    by_shard: dict[int, list] = {}
    for review in reviews:
        by_shard.setdefault(logical_shard(review.product_id), []).append(review)
    for logical, group in by_shard.items():
        for review, review_id in zip(group, allocate(logical, len(group)), strict=True):
            review.pk = review_id
