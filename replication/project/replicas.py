"""The replicas' health: how far each lags behind the primary, which are down.

Kept per process, refreshed at most every REPLICA_CHECK_SECONDS, so choosing a
replica usually costs no query at all.
"""

import logging
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

PRIMARY = "default"
log = logging.getLogger(__name__)


@dataclass
class Health:
    lag: float | None = None  # seconds behind the primary; None: no heartbeat yet
    checked: float = 0.0  # time.time() of the last heartbeat read
    down_until: float = 0.0  # skipped for reads until this time.time()
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
            lag = lag_of(alias)
        except DatabaseError as error:
            mark_down(alias, error)
        else:
            with _lock:
                state.lag, state.error = lag, ""
    return state


def lag_of(alias: str) -> float | None:
    """Seconds the replica is behind the primary."""
    if connections[alias].vendor == "postgresql":
        return standby_lag(alias)
    return copy_age(alias)


# A standby that is not streaming from the primary has no known lag (it may
# have replayed all it received long ago); one that has replayed all it
# received is caught up; otherwise it is as far behind as the last transaction
# it replayed. After a long quiet spell that overstates the lag until the
# standby catches up: it is skipped a little early, never used too late.
STANDBY_LAG = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN NOT EXISTS (
            SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'
        ) THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    END
"""


def standby_lag(alias: str) -> float | None:
    """A PostgreSQL hot standby's replay lag; None if it is no standby."""
    with connections[alias].cursor() as cursor:
        cursor.execute(STANDBY_LAG)
        (lag,) = cursor.fetchone()
    return None if lag is None else max(0.0, float(lag))


def copy_age(alias: str) -> float | None:
    """SQLite: seconds since the replica's copy was taken, from its heartbeat."""
    from .models import Heartbeat

    beat = Heartbeat.objects.using(alias).values_list("beat", flat=True).first()
    if beat is None:
        return None
    return max(0.0, (timezone.now() - beat).total_seconds())


def mark_down(alias: str, error: Exception) -> None:
    """Skip this replica for REPLICA_RETRY_SECONDS, and say so in the log."""
    with _lock:
        state = _health.setdefault(alias, Health())
        state.down_until = time.time() + settings.REPLICA_RETRY_SECONDS
        state.error = f"{type(error).__name__}: {error}"
    log.warning(
        "Replica %s is down, reads go elsewhere for %s s: %s",
        alias,
        settings.REPLICA_RETRY_SECONDS,
        state.error,
    )


def choose_replica(exclude: frozenset[str] = frozenset()) -> str:
    """A random usable replica; the primary when none is usable."""
    usable = [
        alias
        for alias in settings.REPLICAS
        if alias not in exclude and health(alias).usable
    ]
    return random.choice(usable) if usable else PRIMARY


def forget() -> None:
    """Drop what this process knows (tests start from a clean slate)."""
    with _lock:
        _health.clear()
