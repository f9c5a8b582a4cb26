"""Speed-up: counts from the hidden rows, remembered per snapshot.

The core overlay counts the snapshot's visible rows with one NOT IN list of
every shadowed key, and SQLite then tests each row against it instead of
counting from its smallest index. Here a count is two plain counts less the
hidden rows, which are found by key (a lookup each) and remembered: the
snapshot never changes in place, so the first page after a local change asks
it, the next ones do not. The memo is keyed on the snapshot's identity, read
from the snapshot itself, never on the id() of anything. The shadowed keys
travel as a JSON array that SQLite writes itself (no Python object per key).
"""

import bisect
import functools
import threading

from django.db import connections
from django.db.models.expressions import RawSQL

from reviewsite.ordering import sort_key

from .overlay import (
    LOCAL,
    SNAPSHOT,
    Overlay,
    listed,
    shadowed_keys,
    shadowing_keys,
    sort_name,
)


class CountedOverlay(Overlay):
    """The overlay, counting with the remembered hidden rows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hidden_rows = None  # see hidden()
        self._snapshot_rows = None  # see count()

    def snapshot(self):
        if not self.augmented():
            return self.model._default_manager.none()
        keys = shadowed(self.model)
        return self.matching() if keys is None else self.matching().exclude(pk__in=keys)

    def hidden(self) -> "Hidden":
        """The matching snapshot rows that a local row or tombstone hides.

        Read once per overlay while the local database and the snapshot are
        unchanged: a page counts, then slices, and both need them. Unchanged
        means this process wrote nothing since (SQLite's total_changes), and
        the snapshot has the same identity; another process's write is seen
        by the next overlay, as by a queryset whose rows were read."""
        version = (local_version(), snapshot_identity())
        if (
            None in version
            or self._hidden_rows is None
            or (self._hidden_rows[0] != version)
        ):
            self._hidden_rows = (version, hidden_rows(self.matching(), self.ordering))
        return self._hidden_rows[1]

    def count(self) -> int:
        """Local rows, plus matching snapshot rows, less the hidden ones among
        them: two plain counts and the hidden rows, found by key."""
        local = self.local().count()
        if not self.augmented():
            return local
        hidden = len(self.hidden().keys)  # first: it opens the snapshot
        self._snapshot_rows = self.matching().count()  # see deep_pages
        return local + self._snapshot_rows - hidden


class Hidden:
    """Hidden snapshot rows: their keys, and where they fall in an ordering."""

    def __init__(self, rows: list, ordering: list[str]):
        self.rows, self.ordering = rows, ordering
        self.keys = frozenset(row.pk for row in rows)

    @functools.cached_property
    def positions(self) -> list:
        key = sort_key(self.ordering)
        return sorted(key(row) for row in self.rows)

    def before(self, row) -> int:
        """How many come before ``row``: a bisection, no query."""
        return bisect.bisect_left(self.positions, sort_key(self.ordering)(row))


# (snapshot identity, query, keys) -> the rows the keys hide; the last few.
HIDDEN: dict[tuple, Hidden] = {}
HIDDEN_LOCK = threading.Lock()


def hidden_rows(matching, ordering: list[str]) -> Hidden:
    """The ``matching`` snapshot rows that the shadowed keys hide, with their
    sort values: a lookup per key. Kept for the same snapshot, query and
    keys (take_snapshot swaps in another file, with another identity)."""
    keys = shadowed(matching.model)
    if keys is None:
        return Hidden([], ordering)
    names = dict.fromkeys([*(sort_name(field) for field in ordering), "pk"])
    query = matching.filter(pk__in=keys).order_by().values_list(*names, named=True)
    identity = snapshot_identity()
    if identity is None:  # not known which snapshot it reads
        return Hidden(list(query), ordering)
    opened = connections[SNAPSHOT].connection
    sql, params = query.query.sql_with_params()
    key = (identity, *ordering, sql, *params)
    with HIDDEN_LOCK:  # a server's threads share it
        if (hidden := HIDDEN.get(key)) is not None:
            return hidden
    hidden = Hidden(list(query), ordering)
    if connections[SNAPSHOT].connection is opened:  # read from that snapshot
        with HIDDEN_LOCK:
            HIDDEN[key] = hidden
            while len(HIDDEN) > 16:
                HIDDEN.pop(next(iter(HIDDEN)))
    return hidden


def local_version() -> tuple | None:
    """The local connection and how many rows it has changed, on SQLite
    (None elsewhere): what hidden rows read before it stays true for. The
    connection object itself, not its id(): a new one may get the same id."""
    connection = connections[LOCAL].connection
    if connections[LOCAL].vendor != "sqlite" or connection is None:
        return None
    return (connection, connection.total_changes)


def snapshot_identity() -> int | None:
    """Which snapshot the snapshot connection reads, from the snapshot itself
    (take_snapshot stamps it in the header); None if unknown (not SQLite, or
    not stamped). Read once per connection, as Django reads its pragmas when
    it connects: an open SQLite connection reads one file all its life, and a
    new snapshot put in place is opened first (reviewsite/copies)."""
    connection = connections[SNAPSHOT]
    if connection.vendor != "sqlite":
        return None
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    opened = connection.connection
    known = getattr(connection, "snapshot_identity", (None, None))
    if known[0] is not opened:  # the object itself: an id() may be reused
        (identity,) = opened.execute("PRAGMA user_version").fetchone()
        known = connection.snapshot_identity = (opened, identity or None)
    return known[1]


def shadowed(model) -> RawSQL | None:
    """The shadowed keys as ``listed`` sends them to the snapshot; None if
    there are none. On SQLite the local database writes the sorted JSON array
    itself (json_group_array): no Python object per key, for thousands."""
    if {connections[LOCAL].vendor, connections[SNAPSHOT].vendor} != {"sqlite"}:
        keys = shadowed_keys(model)
        return listed(keys, SNAPSHOT) if keys else None
    sql, params = shadowing_keys(model).query.sql_with_params()
    with connections[LOCAL].cursor() as cursor:
        cursor.execute(
            f'SELECT json_group_array("pk") FROM (SELECT "pk" FROM ({sql}) ORDER BY 1)',
            params,
        )
        (array,) = cursor.fetchone()
    if array == "[]":
        return None
    return RawSQL("SELECT value FROM json_each(%s)", [array])
