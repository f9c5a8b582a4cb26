"""The replicas' health: how far each lags behind the primary, how far it has
replayed (its position), and which are down.

Kept per process, refreshed at most every REPLICA_CHECK_SECONDS, so choosing a
replica usually costs no query at all.
"""

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

PRIMARY = "default"
log = logging.getLogger(__name__)


@dataclass
class Health:
    lag: float | None = None  # seconds behind the primary; None: no heartbeat yet
    # How far it has replayed the primary (see primary_position); None: unknown.
    # Only ever grows, so a reading up to REPLICA_CHECK_SECONDS old understates
    # it: a replica is sometimes skipped a moment too long, never used too early.
    position: int | None = None
    checked: float = 0.0  # time.time() of the last heartbeat read
    down_until: float = 0.0  # skipped for reads until this time.time()
    down_since: float | None = None  # time.time() it failed, if no read worked since
    error: str = ""

    @property
    def down(self) -> bool:
        return time.time() < self.down_until

    @property
    def usable(self) -> bool:
        return (
            not self.down
            and self.lag is not None
            and self.lag <= settings.REPLICATION_MAX_LAG_SECONDS
        )


_health: dict[str, Health] = {}
_lock = threading.Lock()


def health(alias: str, fresh: bool = False) -> Health:
    """The replica's health, re-reading its heartbeat when the last read is old."""
    now = time.time()
    with _lock:
        state = _health.setdefault(alias, Health())
        due = not state.down and (
            fresh or now - state.checked >= settings.REPLICA_CHECK_SECONDS
        )
        if due:
            state.checked = now  # one thread checks; the others use the last reading
    if due:
        try:
            lag, position = reading_of(alias)
        except DatabaseError as error:
            mark_down(alias, error)
        else:
            with _lock:
                state.lag, state.position, state.error = lag, position, ""
                state.down_since = None
    return state


def downtime(state: Health) -> str:
    """Since when a replica that is down has been, and when it is tried again
    (by the first read that wants it from then on)."""
    now = time.time()
    since, retry = (
        timezone.localtime(datetime.fromtimestamp(t, UTC)).strftime("%H:%M:%S")
        for t in (state.down_since or now, state.down_until)
    )
    wait = ceil(state.down_until - now)
    return f"since {since}, tried again from {retry} (in {wait} s)"


def reading_of(alias: str) -> tuple[float | None, int | None]:
    """Seconds the replica is behind the primary, and its position: one query."""
    if connections[alias].vendor == "postgresql":
        return standby_reading(alias)
    return copy_reading(alias)


def primary_position() -> int:
    """Where the primary is now: a replica at this position or past it holds
    every write the primary committed before this call."""
    if connections[PRIMARY].vendor == "postgresql":
        # The insert position, not the flushed one: with synchronous_commit
        # off, a commit may not be flushed yet, but it is before this.
        with connections[PRIMARY].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'")
            return int(cursor.fetchone()[0])
    from .models import Heartbeat

    # SQLite: the generation the next copy will carry. Its stamp commits
    # after this read, and its snapshot is taken after the stamp.
    now = Heartbeat.objects.using(PRIMARY).values_list("generation", flat=True)
    return (now.first() or 0) + 1


def has_reached(alias: str, position: int) -> bool:
    """Does this database hold every write up to ``position``?"""
    if alias == PRIMARY or position <= 0:
        return True
    replayed = health(alias).position
    return replayed is not None and replayed >= position


# The lag: a standby that is not streaming from the primary has no known lag;
# one that has replayed up to where the primary was a moment before (%s) is
# caught up; otherwise it is as far behind as the last transaction it replayed.
# (Compared with the primary, not with what the standby received: a stalled
# link leaves a standby that has replayed all it received far behind.) After
# a long quiet spell on the primary, a standby still catching up is reported
# far behind until it has: skipped a little early, never used too late.
STANDBY_READING = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN NOT EXISTS (
            SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'
        ) THEN NULL
        WHEN pg_last_wal_replay_lsn() - '0/0' >= %s THEN 0
        ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    END,
    -- A primary that went through crash recovery keeps the last LSN it
    -- replayed then: only a server in recovery has a replay position.
    CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() - '0/0' END
"""


def standby_reading(alias: str) -> tuple[float | None, int | None]:
    """A PostgreSQL hot standby's replay lag and replay position; None, None if
    it is no standby. The primary's position is read first (without it, the
    standby is never taken for caught up)."""
    try:
        primary = primary_position()
    except DatabaseError:
        primary = None
    with connections[alias].cursor() as cursor:
        cursor.execute(STANDBY_READING, [primary])
        lag, position = cursor.fetchone()
    lag = None if lag is None else max(0.0, float(lag))
    return lag, None if position is None else int(position)


def copy_reading(alias: str) -> tuple[float | None, int | None]:
    """SQLite: seconds since the replica's copy was taken, and its generation,
    from its heartbeat."""
    from .models import Heartbeat

    row = Heartbeat.objects.using(alias).values_list("beat", "generation").first()
    if row is None:
        return None, None
    beat, generation = row
    return max(0.0, (timezone.now() - beat).total_seconds()), generation


def mark_down(alias: str, error: Exception) -> None:
    """Skip this replica for REPLICA_RETRY_SECONDS, and say so in the log."""
    now = time.time()
    with _lock:
        state = _health.setdefault(alias, Health())
        state.down_until = now + settings.REPLICA_RETRY_SECONDS
        state.error = f"{type(error).__name__}: {error}"
        if state.down_since is None:
            state.down_since = now
        # Its last reading is no longer known to hold: neither shown as its
        # lag, nor trusted by a thread that finds it up again before the
        # first new reading is in.
        state.lag = state.position = None
    log.warning(
        "Replica %s is down, reads go elsewhere for %s s: %s",
        alias,
        settings.REPLICA_RETRY_SECONDS,
        state.error,
    )


def choose_replica(exclude: frozenset[str] = frozenset(), at_least: int = 0) -> str:
    """A random usable replica that has reached ``at_least``; the primary when
    none has."""
    usable = [
        alias
        for alias in settings.REPLICAS
        if alias not in exclude
        and health(alias).usable
        and has_reached(alias, at_least)
    ]
    return random.choice(usable) if usable else PRIMARY


def forget() -> None:
    """Drop what this process knows (tests start from a clean slate)."""
    with _lock:
        _health.clear()
