"""The overlay: a model's rows as the snapshot has them, changed by the local database.

An ``Overlay`` answers filter, exclude, order_by, count, slicing, get and
in_bulk like a queryset, from two queries: the local rows that match, and the
snapshot rows that match and whose key no local row or tombstone holds. A
local edit that no longer matches a filter hides its snapshot row all the
same: a snapshot row is hidden as soon as its key is shadowed locally.

This module is the pattern. The site reads through ``FastOverlay``
(deep_pages.py), which adds two speed-ups and changes no answer.
"""

import json
from itertools import groupby

from django.conf import settings
from django.db import connections
from django.db.models import Model, Q
from django.db.models.expressions import RawSQL

from reviewsite.ordering import as_sorts, sort_name

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
        check_ordering(self.ordering)
        # A queryset to start from on both sides (the admin's filtered one).
        self.base = model._default_manager.all() if base is None else base

    def _clone(self, **changes) -> "Overlay":
        state = {"where": self.where, "ordering": self.ordering, "base": self.base}
        return type(self)(self.model, **{**state, **changes})

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
        return self.base.using(LOCAL).filter(self.where)

    def matching(self):
        """The snapshot rows that match, hidden ones included."""
        return self.base.using(SNAPSHOT).filter(self.where)

    def snapshot(self):
        """The matching snapshot rows that no local row or tombstone hides, as
        one queryset (for counts and aggregates)."""
        if not self.augmented():
            return self.model._default_manager.none()
        keys = shadowed_keys(self.model)
        return self.matching().exclude(pk__in=listed(keys, SNAPSHOT))

    def count(self) -> int:
        local = self.local().count()
        return local + self.snapshot().count() if self.augmented() else local

    def exists(self) -> bool:
        return self.local().exists() or (self.augmented() and bool(self.visible(1)))

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[:None])

    def __getitem__(self, index):
        """Rows ``start:stop``: the first ``stop`` of each side, merged in
        order, sliced (what a page shows; a deep page reads every row before
        it, see deep_pages.py)."""
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
        rows = [*self._fetch(self.local(), stop), *self.visible(stop)]
        return order(rows, self.ordering)[start:stop]

    def _fetch(self, queryset, stop, start=0) -> list[Model]:
        """Rows ``start:stop`` of one side, in the overlay's order, marked."""
        sorts = as_sorts(self.model, self.ordering, queryset.db)
        return mark(list(queryset.order_by(*sorts)[start:stop]))

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
        keys -= {*found, *dead.values_list("object_id", flat=True)}
        if keys:
            found.update(
                self.matching().filter(pk__in=listed(keys, SNAPSHOT)).in_bulk()
            )
        mark(list(found.values()))
        return found


def mark(rows: list[Model]) -> list[Model]:
    for row in rows:
        row.shadow_source = "local" if row._state.db == LOCAL else "snapshot"
    return rows


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
    return keys_of(local, tombstones(model))


def hidden_keys(model, keys: list[int]) -> set[int]:
    """Those of ``keys`` whose snapshot row is hidden (a local row or a
    tombstone has the key): one query, listing these keys, not every change."""
    if not keys:
        return set()
    local = model._default_manager.using(LOCAL).filter(pk__in=listed(keys, LOCAL))
    dead = tombstones(model).filter(object_id__in=listed(keys, LOCAL))
    return set(keys_of(local, dead))


def keys_of(local, dead):
    """The keys of these local rows and tombstones: one UNION ALL query."""
    return (
        local.order_by()
        .values_list("pk", flat=True)
        .union(dead.order_by().values_list("object_id", flat=True), all=True)
        .order_by()  # else Django 6.1 orders the union by the model's ordering
    )


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


def tombstones(model):
    return Tombstone.objects.using(LOCAL).filter(model=model._meta.label_lower)


def leave_tombstone(sender, instance, using, **kwargs) -> None:
    """post_delete: a deleted row of an augmented model stays deleted, also the
    snapshot's copy of it; so do the reviews of a deleted product."""
    if mode(sender) != "augmented" or using != LOCAL:
        return
    bury(sender, [instance.pk])
    if sender._meta.label_lower == "products.product":
        from reviewsite.reviews.models import Review

        reviews = list(Overlay(Review).filter(product_id=instance.pk))
        bury_rows(Review, reviews, cause=f"products.product {instance.pk}")


def bury(model, keys, cause: str = "") -> None:
    label = model._meta.label_lower
    Tombstone.objects.using(LOCAL).bulk_create(
        [Tombstone(model=label, object_id=key, cause=cause) for key in keys],
        ignore_conflicts=True,
    )


def bury_rows(model, rows: list[Model], cause: str) -> None:
    """Tombstones for rows that go with another one. A local row (an edit, a
    review written here) is kept in its tombstone, then deleted: resetting
    ``cause``'s model puts it back as it was (shadow_reset)."""
    Tombstone.objects.using(LOCAL).bulk_create(
        [
            Tombstone(
                model=model._meta.label_lower,
                object_id=row.pk,
                cause=cause,
                kept=Tombstone.keep(row) if row._state.db == LOCAL else None,
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    local = [row.pk for row in rows if row._state.db == LOCAL]
    model._default_manager.using(LOCAL).filter(pk__in=local).delete()


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
