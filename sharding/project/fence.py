"""The fence: a shard refuses every write to a logical shard it does not own.

Triggers on each shard's reviews table look up the row's logical shard (from
its id) in the shard's own ``LogicalShard`` table and refuse the write unless
it is ``owned`` there (or ``moving``, which only rebalance's own transactions
ever see); a delete is refused only where the logical shard is held but not
owned (frozen for a move, or a copy not switched to yet). Whatever writes,
and with whatever map: ``save()``, ``update()``, ``delete()``,
``bulk_create()``, raw SQL, a process whose cached map is old.

So a move fences writers on the database they write to: once the source
says ``frozen``, no write to that logical shard can commit there, and the
copy is a consistent read; once the source no longer holds the logical shard,
a writer with an old map is refused instead of writing where nobody reads.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from reviewsite.reviews.models import Review

from .ids import SEQUENCE_BITS, SHARD_BITS
from .models import LogicalShard
from .shardmap import ShardMoving
from .triggers import Triggers

REVIEWS = Review._meta.db_table
STATES = LogicalShard._meta.db_table
WRITABLE = f"('{LogicalShard.State.OWNED}', '{LogicalShard.State.MOVING}')"
REFUSED = "fence: logical shard not writable on this database"
# Its id carries its product's logical shard: another product is a new review.
KEEPS_PRODUCT = "fence: a review keeps its product"
MASK = (1 << SHARD_BITS) - 1


def _held_as(row: str, condition: str) -> str:
    """SQLite: whether this database holds ``row``'s logical shard in a state
    that meets ``condition``."""
    return (
        f"EXISTS (SELECT 1 FROM {STATES} WHERE logical = "
        f"({row}.id >> {SEQUENCE_BITS}) & {MASK} AND state {condition})"
    )


def _refuse(event: str, when: str) -> str:
    return (
        f"CREATE TRIGGER {REVIEWS}_fence_{event} BEFORE {event.upper()} ON {REVIEWS} "
        f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )


EVENTS = ("insert", "update", "delete", "product")
# A row is written only where its logical shard is owned. It may be deleted
# where it is not held at all: no one reads it there (a leftover, or a
# `flush` that emptied the states' table first).
SQLITE = {
    "install": [
        _refuse("insert", f"NOT {_held_as('NEW', f'IN {WRITABLE}')}"),
        _refuse(
            "update",
            f"NOT ({_held_as('OLD', f'IN {WRITABLE}')} "
            f"AND {_held_as('NEW', f'IN {WRITABLE}')})",
        ),
        _refuse("delete", _held_as("OLD", f"NOT IN {WRITABLE}")),
        f"CREATE TRIGGER {REVIEWS}_fence_product BEFORE UPDATE OF product_id "
        f"ON {REVIEWS} WHEN NEW.product_id != OLD.product_id "
        f"BEGIN SELECT RAISE(ABORT, '{KEEPS_PRODUCT}'); END",
    ],
    "uninstall": [
        f"DROP TRIGGER IF EXISTS {REVIEWS}_fence_{event}" for event in EVENTS
    ],
}
# PostgreSQL: FOR SHARE makes a freeze (an UPDATE of the state row) wait for
# the writes that passed the fence to commit, and every later write see it.
POSTGRESQL = {
    "install": [
        f"""CREATE FUNCTION {REVIEWS}_fence() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            n integer;
            held text;
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.product_id <> OLD.product_id THEN
                RAISE EXCEPTION '{KEEPS_PRODUCT}'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            FOREACH n IN ARRAY CASE TG_OP
                WHEN 'INSERT' THEN ARRAY[(NEW.id >> {SEQUENCE_BITS}) & {MASK}]
                WHEN 'DELETE' THEN ARRAY[(OLD.id >> {SEQUENCE_BITS}) & {MASK}]
                ELSE ARRAY[(OLD.id >> {SEQUENCE_BITS}) & {MASK},
                           (NEW.id >> {SEQUENCE_BITS}) & {MASK}]
            END LOOP
                SELECT s.state INTO held FROM {STATES} s WHERE s.logical = n
                FOR SHARE;
                IF (held IS NULL AND TG_OP <> 'DELETE')
                   OR held NOT IN {WRITABLE} THEN
                    RAISE EXCEPTION '{REFUSED} (logical shard %)', n
                        USING ERRCODE = 'object_not_in_prerequisite_state';
                END IF;
            END LOOP;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$""",
        f"CREATE TRIGGER {REVIEWS}_fence BEFORE INSERT OR UPDATE OR DELETE "
        f"ON {REVIEWS} FOR EACH ROW EXECUTE FUNCTION {REVIEWS}_fence()",
    ],
    "uninstall": [
        f"DROP TRIGGER IF EXISTS {REVIEWS}_fence ON {REVIEWS}",
        f"DROP FUNCTION IF EXISTS {REVIEWS}_fence()",
    ],
    # DISABLE takes a lock that keeps other writers out until the commit.
    "suspend": [f"ALTER TABLE {REVIEWS} DISABLE TRIGGER {REVIEWS}_fence"],
    "resume": [f"ALTER TABLE {REVIEWS} ENABLE TRIGGER {REVIEWS}_fence"],
}
TRIGGERS = Triggers(
    "fence",
    {"sqlite": SQLITE, "postgresql": POSTGRESQL},
    {
        "sqlite": {f"{REVIEWS}_fence_{event}" for event in EVENTS},
        "postgresql": {f"{REVIEWS}_fence"},
    },
)


def install(alias: str) -> None:
    TRIGGERS.run(alias, "install")


def uninstall(alias: str) -> None:
    TRIGGERS.run(alias, "uninstall")


def installed(alias: str) -> bool:
    return TRIGGERS.installed(alias)


@contextmanager
def suspended(alias: str) -> Iterator[None]:
    """For a bulk load, inside its transaction: no lookup per row. The load
    checks once that it writes only logical shards this database owns
    (``ids.claim``), and no other writer gets in until it commits: SQLite's
    write lock, or the lock PostgreSQL's DISABLE TRIGGER takes."""
    if not connections[alias].in_atomic_block:
        raise RuntimeError("The fence is suspended only inside a transaction.")
    postgresql = connections[alias].vendor == "postgresql"
    TRIGGERS.run(alias, "suspend" if postgresql else "uninstall")
    yield
    TRIGGERS.run(alias, "resume" if postgresql else "install")


def refused(error: BaseException) -> bool:
    """Whether a database error is the fence refusing a write."""
    return REFUSED in str(error)


def moving(error: BaseException) -> bool:
    """Whether a write failed because its logical shard is moving: refused
    when its id was to be issued, or by the fence itself."""
    return isinstance(error, ShardMoving) or refused(error)
