"""The overlay: a model's rows as the snapshot has them, changed by the local database.

An ``Overlay`` answers filter, exclude, order_by, count, slicing and get like a
queryset, from two queries: the local rows that match, and the snapshot rows
that match and are neither overridden nor deleted locally. A local edit that no
longer matches a filter hides its snapshot row all the same: a snapshot row is
hidden as soon as its key has a local row or a tombstone.
"""

import bisect
import functools
import json
import threading
from itertools import groupby

from django.conf import settings
from django.db import connections, models
from django.db.models import F, Model, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate

from .models import Tombstone

LOCAL, SNAPSHOT = "default", "snapshot"


def mode(model) -> str:
    """ "augmented", "replaced", or "local" (not shadowed at all)."""
    return settings.SHADOW_MODELS.get(model._meta.label_lower, "local")


class Overlay:
    """Snapshot rows plus local changes, for reading (writes go through save())."""

    ordered = True  # the Paginator asks

    def __init__(self, model, where: Q | None = None, ordering=None, base=None):
        self.model = model
        self.where = where or Q()
        self.ordering = list(ordering or model._meta.ordering or ["pk"])
        # A queryset to start from on both sides (the admin's filtered one).
        self.base = model._default_manager.all() if base is None else base
        self._hidden_rows = None  # see hidden()
        self._snapshot_rows = None  # see count()

    def _clone(self, **changes) -> "Overlay":
        state = {"where": self.where, "ordering": self.ordering, "base": self.base}
        return Overlay(self.model, **{**state, **changes})

    def all(self) -> "Overlay":
        return self._clone()

    def filter(self, *args, **kwargs) -> "Overlay":
        return self._clone(where=self.where & Q(*args, **kwargs))

    def exclude(self, *args, **kwargs) -> "Overlay":
        return self._clone(where=self.where & ~Q(*args, **kwargs))

    def order_by(self, *fields) -> "Overlay":
        return self._clone(ordering=list(fields))

    def augmented(self) -> bool:
        return mode(self.model) == "augmented"

    def local(self):
        """Matching local rows, less buried ones: the reviews of a deleted
        product keep their local rows, hidden, until products are reset."""
        rows = self.base.using(LOCAL).filter(self.where)
        if self.augmented():
            rows = rows.exclude(pk__in=tombstones(self.model).values("object_id"))
        return rows

    def snapshot(self):
        """Matching snapshot rows that no local row or tombstone overrides, as
        one queryset, for aggregates (the review figures). Pages and counts
        do without the list of keys: see visible() and count()."""
        if not self.augmented():
            return self.model._default_manager.none()
        keys = shadowed(self.model)
        return self.matching() if keys is None else self.matching().exclude(pk__in=keys)

    def matching(self):
        """The snapshot rows that match, hidden ones included."""
        return self.base.using(SNAPSHOT).filter(self.where)

    def hidden(self) -> "Hidden":
        """The matching snapshot rows that a local row or tombstone hides.

        Read once per overlay while the local database is unchanged: a page
        counts, then slices, and both need them. Unchanged means this
        process wrote nothing since (SQLite's total_changes); another
        process's write is seen by the next overlay, as by a queryset whose
        rows were read."""
        version = local_version()
        if (
            version is None
            or self._hidden_rows is None
            or (self._hidden_rows[0] != version)
        ):
            self._hidden_rows = (version, hidden_rows(self.matching(), self.ordering))
        return self._hidden_rows[1]

    def count(self) -> int:
        """Local rows, plus matching snapshot rows, less the hidden ones among
        them. Two plain counts: SQLite counts a whole table from its smallest
        index, which it cannot do once every row is tested against a NOT IN
        list; the hidden rows are found by key, a lookup each."""
        local = self.local().count()
        if not self.augmented():
            return local
        hidden = len(self.hidden().keys)  # first: it opens the snapshot
        self._snapshot_rows = self.matching().count()  # see _guess_skip()
        return local + self._snapshot_rows - hidden

    def exists(self) -> bool:
        return self.local().exists() or (self.augmented() and bool(self.visible(1)))

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[:None])

    def __getitem__(self, index):
        if isinstance(index, int):
            rows = self[index : index + 1]
            if not rows:
                raise IndexError(index)
            return rows[0]
        if index.step is not None:
            raise TypeError("The overlay takes slices without a step.")
        start, stop = index.start or 0, index.stop
        if start < 0 or (stop is not None and stop < 0):
            raise ValueError("Negative indexing is not supported.")  # as a queryset
        if not self.augmented():
            return self._fetch(self.local(), stop, start)  # one database: it pages
        deep = start >= DEEP_FROM and self._seekable()
        if deep and (page := self._deep_page(start, stop)) is not None:
            return page
        rows = [*self._fetch(self.local(), stop), *self.visible(stop)]
        return order(rows, self.ordering)[start:stop]

    def _fetch(self, queryset, stop, start=0, ordering=None, light=False) -> list:
        """Rows ``start:stop`` of one side, in the overlay's order, marked;
        ``light``: only their sort values and key, for rows that only place
        the page (SQLite reads them from the index, builds no model)."""
        ordering = ordering or self.ordering
        sorts = as_python_sorts(self.model, ordering, queryset.db)
        queryset = queryset.order_by(*sorts)
        if light:
            names = dict.fromkeys([*(sort_name(field) for field in ordering), "pk"])
            return list(queryset.values_list(*names, named=True)[start:stop])
        return mark(list(queryset[start:stop]))

    def visible(self, stop) -> list[Model]:
        """The first ``stop`` matching snapshot rows (all if None) that no local
        row or tombstone hides, in the overlay's order.

        Rows are read a batch at a time and the hidden ones dropped, asking the
        local database about the keys read only: with 1% of rows changed, a
        page reads about 1% more rows, whatever the number of changes."""
        rows, offset = [], 0
        while True:
            want = None if stop is None else stop - len(rows)
            limit = None if want is None else offset + want + want // 16 + 2
            batch = self._fetch(self.matching(), limit, offset)
            hidden = hidden_keys(self.model, [row.pk for row in batch])
            rows += [row for row in batch if row.pk not in hidden]
            if limit is None or len(batch) < limit - offset or len(rows) >= stop:
                return rows[:stop]
            offset = limit

    def _seekable(self) -> bool:
        """A deep page can be found from one row on: the ordering ends with
        the key (no ties), and compares as order() does (on PostgreSQL, text
        is compared by the server's collation, not by code point)."""
        names = [sort_name(field) for field in self.ordering]
        text = (models.CharField, models.TextField)
        return names[-1:] == ["pk"] and (
            connections[SNAPSHOT].vendor == "sqlite"
            or not any(
                isinstance(self.model._meta.get_field(name), text)
                for name in names[:-1]
            )
        )

    def _deep_page(self, start: int, stop) -> list[Model] | None:
        """Rows ``start:stop`` without reading the rows before them.

        ``bound``, the snapshot's ``start``-th visible row, is found by walking
        its index as one database would (OFFSET, no list of keys to test each
        skipped row against): the hidden rows before the row at ``start``,
        counted in memory from their sort values, are as many visible rows
        further on. ``bound`` is preceded by exactly ``start`` visible rows
        and the local rows before it. The local rows before it (few: what
        you changed) push as many of the snapshot's last skipped rows into
        the page, read backwards from ``bound`` by keyset; the page then goes
        on with the rows from ``bound`` on, merged.

        All of this reads sort values and keys only (light rows): most of
        the rows read are skipped, hidden or pushed past, and building them
        as models cost more than the page. Only the page's own rows are then
        read whole, by key (_whole)."""
        size = None if stop is None else stop - start
        after = self._walk(self.ordering, size, offset=start)
        if not after:
            return None  # past the snapshot's end: read from the top
        bound, model, light = after[0], self.model, True
        local_before = self._fetch(
            self.local().filter(before(bound, self.ordering, model)), None, light=light
        )
        local_after = self._fetch(
            self.local().filter(after_row(bound, self.ordering, model)),
            size,
            light=light,
        )
        pushed = len(local_before)
        tail = []
        if pushed:
            backwards = [flip(field) for field in self.ordering]
            skipped = self._walk(backwards, pushed, after=bound)
            tail = order([*skipped, *local_before], self.ordering)[-pushed:]
        rest = order([*after, *local_after], self.ordering)
        local = {row.pk for row in [*local_before, *local_after]}
        return self._whole([*tail, *rest][:size], local)

    def _whole(self, rows: list, local: set) -> list[Model]:
        """The models of these light rows, in their order: one query per side
        by key (the keys are unique: a local key hides the snapshot's)."""
        found = {}
        for side, keys in [
            (self.local(), [row.pk for row in rows if row.pk in local]),
            (self.matching(), [row.pk for row in rows if row.pk not in local]),
        ]:
            if keys:
                by_key = side.filter(pk__in=listed(keys, side.db)).order_by()
                found |= {row.pk: row for row in by_key}
        return mark([found[row.pk] for row in rows])

    def _walk(self, ordering, want, offset: int = 0, after=None) -> list:
        """``want`` visible snapshot rows (all if None) in ``ordering``, light:
        the ``offset``-th visible one and those after it, or those after the
        row ``after``. Read in batches, each going on from the last row read
        by keyset; hidden rows are dropped by key, with no query."""
        hidden = self.hidden()
        matching = self.matching()
        queryset = (
            matching
            if after is None
            else matching.filter(after_row(after, ordering, self.model))
        )
        rows, skip, last = [], 0, None
        while True:
            if last is not None:
                queryset = matching.filter(after_row(last, ordering, self.model))
            limit = None if want is None else skip + want - len(rows) + want // 16 + 2
            if limit is not None and offset:
                limit += self._guess_skip(offset)
            batch = self._fetch(
                queryset,
                None if limit is None else offset + limit,
                offset,
                ordering,
                light=True,
            )
            if offset and batch:
                # As many visible rows further on as hidden rows come before.
                skip = hidden.before(batch[0])
            offset = 0
            rows += [row for row in batch if row.pk not in hidden.keys]
            if want is None or len(batch) < limit or len(rows) >= skip + want:
                return rows[skip:][:want]
            last = batch[-1]

    def _guess_skip(self, offset: int) -> int:
        """About how many hidden rows come before the snapshot's ``offset``-th
        row, from their share of the snapshot (counted for the paginator),
        with a margin: the first batch then usually reaches the page, in one
        query. Over-reading costs little: the batch is light rows."""
        if not self._snapshot_rows:
            return 0
        share = len(self.hidden().keys) / self._snapshot_rows
        return int(offset * share * 1.5) + 8

    def get(self, *args, **kwargs) -> Model:
        rows = list(self.filter(*args, **kwargs)[:2])
        if not rows:
            raise self.model.DoesNotExist(f"No {self.model.__name__} matches.")
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned(
                f"More than one {self.model.__name__}."
            )
        return rows[0]

    def in_bulk(self, keys) -> dict:
        """The rows with these keys, by key: the local ones, then the snapshot's
        of the other keys that have no tombstone; three queries, no merge."""
        keys = {key for key in keys if key is not None}
        if not keys:
            return {}
        if self.where or self.base.query.where or not self.augmented():
            # A local row that a filter leaves out still hides its key.
            return {row.pk: row for row in self.filter(pk__in=keys)}
        found = self.base.using(LOCAL).in_bulk(keys)
        dead = tombstones(self.model).filter(object_id__in=listed(keys, LOCAL))
        dead = set(dead.values_list("object_id", flat=True))
        found = {key: row for key, row in found.items() if key not in dead}
        keys -= {*found, *dead}
        if keys:
            found.update(
                self.matching().filter(pk__in=listed(keys, SNAPSHOT)).in_bulk()
            )
        mark(list(found.values()))
        return found


# From this row on, a page is found by skipping in SQL (_deep_page) rather
# than by reading and merging every row before it.
DEEP_FROM = 100


def before(row, ordering: list[str], model=None) -> Q:
    """The rows that come before ``row`` in this ordering (NULLs first when
    ascending, as order()), as a filter: a keyset condition. It is led by a
    range on the first field where it can be (the field cannot be NULL, or
    it is descending): SQLite then seeks in the index on that field instead of
    testing every row of it against the ORs. ``row`` may be a light row
    (sort values and key) of ``model``."""
    meta = (model or row)._meta
    condition, same, lead = None, Q(), Q()
    for n, field in enumerate(ordering):
        name, value = sort_name(field), getattr(row, sort_name(field))
        nullable = name != "pk" and meta.get_field(name).null
        if field.startswith("-"):  # larger first, NULLs last
            earlier = (
                Q(**{f"{name}__isnull": False})
                if value is None
                else Q(**{f"{name}__gt": value})
            )
            if n == 0 and value is not None:
                lead = Q(**{f"{name}__gte": value})
        elif value is None:  # NULLs first: nothing comes before a NULL
            earlier = None
        else:
            earlier = Q(**{f"{name}__lt": value})
            if nullable:
                earlier |= Q(**{f"{name}__isnull": True})
            elif n == 0:
                lead = Q(**{f"{name}__lte": value})
        if earlier is not None:
            condition = (
                same & earlier if condition is None else condition | (same & earlier)
            )
        same &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
    return lead & condition if condition is not None else Q(pk__in=[])


def after_row(row, ordering: list[str], model=None) -> Q:
    """The rows that come after ``row`` (the ordering ends with the key: no
    other row ties with it)."""
    return before(row, [flip(field) for field in ordering], model)


def flip(field: str) -> str:
    return field[1:] if field.startswith("-") else "-" + field


def mark(rows: list[Model]) -> list[Model]:
    for row in rows:
        row.shadow_source = "local" if row._state.db == LOCAL else "snapshot"
    return rows


def sort_name(field: str) -> str:
    name = field.lstrip("-")
    return "pk" if name == "id" else name


def as_python_sorts(model, ordering: list[str], alias: str) -> list:
    """The ordering as each database must apply it for order() to merge the
    two sides: NULLs first when ascending (SQLite's way; PostgreSQL's is the
    reverse), and text by code point (PostgreSQL's collation may not be)."""
    check_ordering(ordering)
    text = (models.CharField, models.TextField)
    expressions = []
    for field in ordering:
        name = sort_name(field)
        value = F(name)
        target = model._meta.pk if name == "pk" else model._meta.get_field(name)
        if connections[alias].vendor == "postgresql" and isinstance(target, text):
            value = Collate(value, "C")
        # NULLS FIRST/LAST only where a NULL may be: SQLite walks an index
        # more slowly with it, and PostgreSQL's index on a NOT NULL column
        # serves either way.
        nulls = target.null
        if field.startswith("-"):
            expressions.append(value.desc(nulls_last=nulls or None))
        else:
            expressions.append(value.asc(nulls_first=nulls or None))
    return expressions


def sort_key(ordering: list[str]):
    """order()'s order as one key (to bisect by): NULLs first when ascending."""
    fields = [(sort_name(field), field.startswith("-")) for field in ordering]

    def key(row) -> tuple:
        values = [(getattr(row, name), descending) for name, descending in fields]
        return tuple(
            Reversed((value is not None, value)) if descending
            else (value is not None, value)
            for value, descending in values
        )  # fmt: skip

    return key


class Reversed:
    """A value that sorts the other way round (a descending field)."""

    __slots__ = ["value"]

    def __init__(self, value):
        self.value = value

    def __eq__(self, other) -> bool:
        return self.value == other.value

    def __lt__(self, other) -> bool:
        return other.value < self.value


def check_ordering(ordering) -> None:
    if not all(isinstance(field, str) and field.lstrip("-").isidentifier()
               for field in ordering):  # fmt: skip
        raise TypeError(f"The overlay orders by field names only, not {ordering}.")


def order(rows: list, ordering: list[str]) -> list:
    """Sort as SQLite does: by each field in turn, NULLs first when ascending.

    Fields in the same direction sort as one tuple, in one pass; stable
    passes, from the last run of fields to the first, give the whole order
    (one pass for the site's orderings)."""
    check_ordering(ordering)
    runs = groupby(ordering, key=lambda field: field.startswith("-"))
    for descending, fields in reversed([(d, list(f)) for d, f in runs]):
        names = [sort_name(field) for field in fields]

        def key(row, names=names):
            return tuple(
                (value is not None, value)
                for value in (getattr(row, name) for name in names)
            )

        rows = sorted(rows, key=key, reverse=descending)
    return rows


def shadowed_keys(model) -> set[int]:
    """Keys whose snapshot row is hidden: edited locally, or deleted; one query.

    Rows added locally are numbered from LOCAL_ID_START, where the snapshot has
    none, so only local copies of snapshot rows need listing: the list grows
    with what a developer changed, not with what they added.
    """
    return set(shadowing_keys(model))


def shadowing_keys(model):
    """The query of shadowed_keys(): local copies of snapshot rows, and
    tombstones."""
    local = model._default_manager.using(LOCAL).filter(pk__lt=settings.LOCAL_ID_START)
    dead = Tombstone.objects.using(LOCAL).filter(model=model._meta.label_lower)
    return keys_of(local, dead)


def keys_of(local, dead):
    """The keys of these local rows and tombstones: one UNION ALL query."""
    return (
        local.order_by()
        .values_list("pk", flat=True)
        .union(dead.order_by().values_list("object_id", flat=True), all=True)
        .order_by()  # else Django 6.1 orders the union by the model's ordering
    )


def shadowed(model) -> RawSQL | None:
    """shadowed_keys() as ``listed`` sends them to the snapshot; None if there
    are none. On SQLite the local database writes the sorted JSON array itself
    (json_group_array): no Python object per key, for thousands of them."""
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
    sort values: a lookup per key, 10 ms for 8,000 keys over a million rows.
    The snapshot never changes in place (take_snapshot swaps in another file,
    with another identity), so the rows for the same snapshot, query and keys
    are kept: the first page
    after a local change asks the snapshot, the next ones do not."""
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


def hidden_keys(model, keys: list[int]) -> set[int]:
    """Those of ``keys`` whose snapshot row is hidden (a local row or a
    tombstone has the key): one query, listing these keys, not every change."""
    if not keys:
        return set()
    local = model._default_manager.using(LOCAL).filter(pk__in=listed(keys, LOCAL))
    dead = Tombstone.objects.using(LOCAL).filter(
        model=model._meta.label_lower, object_id__in=listed(keys, LOCAL)
    )
    return set(keys_of(local, dead))


def listed(keys, alias: str) -> RawSQL:
    """``keys`` for ``pk__in`` as one parameter: a JSON array SQLite reads with
    json_each, an array PostgreSQL unnests. Django would send one parameter per
    key, slow to prepare by the thousand and capped by SQLite (999 before
    3.32, 32,766 since)."""
    # Sorted: the database then visits its pages in order (3 times faster
    # for a thousand scattered keys on SQLite).
    keys = sorted(int(key) for key in keys)
    if connections[alias].vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [keys])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(keys)])


def leave_tombstone(sender, instance, using, **kwargs) -> None:
    """post_delete: a deleted row of an augmented model stays deleted, also the
    snapshot's copy of it; so do the snapshot reviews of a deleted product."""
    if mode(sender) != "augmented" or using != LOCAL:
        return
    bury(sender, [instance.pk])
    if sender._meta.label_lower == "products.product":
        from reviewsite.reviews.models import Review

        reviews = Overlay(Review).filter(product_id=instance.pk)
        cause = f"products.product {instance.pk}"
        bury(Review, [review.pk for review in reviews], cause=cause)


def tombstones(model):
    return Tombstone.objects.using(LOCAL).filter(model=model._meta.label_lower)


def bury(model, keys, cause: str = "") -> None:
    label = model._meta.label_lower
    Tombstone.objects.using(LOCAL).bulk_create(
        [Tombstone(model=label, object_id=key, cause=cause) for key in keys],
        ignore_conflicts=True,
    )


def number_local_rows_high(using: str, **kwargs) -> None:
    """post_migrate: local keys of augmented models start at LOCAL_ID_START, so
    a new local row never takes a key the snapshot has."""
    from django.apps import apps

    if using != LOCAL:
        return
    connection = connections[using]
    start = settings.LOCAL_ID_START
    for label, how in settings.SHADOW_MODELS.items():
        if how != "augmented":
            continue
        table = apps.get_model(label)._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(
                    "DELETE FROM sqlite_sequence WHERE name = %s AND seq < %s",
                    [table, start],
                )
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT %s, %s"
                    " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)",
                    [table, start, table],
                )
            elif connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                    " GREATEST((SELECT COALESCE(MAX(id), 0) FROM "
                    + connection.ops.quote_name(table)
                    + "), %s))",
                    [table, start],
                )
