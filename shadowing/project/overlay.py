"""The overlay: a model's rows as the snapshot has them, changed by the local database.

An ``Overlay`` answers filter, exclude, order_by, count, slicing and get like a
queryset, from two queries: the local rows that match, and the snapshot rows
that match and are neither overridden nor deleted locally. A local edit that no
longer matches a filter hides its snapshot row all the same: a snapshot row is
hidden as soon as its key has a local row or a tombstone.
"""

from django.conf import settings
from django.db import connections, models
from django.db.models import F, Model, Q
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

    def local(self):
        return self.base.using(LOCAL).filter(self.where)

    def snapshot(self):
        """Matching snapshot rows that no local row or tombstone overrides."""
        if mode(self.model) != "augmented":
            return self.model._default_manager.none()
        return (
            self.base.using(SNAPSHOT)
            .filter(self.where)
            .exclude(pk__in=shadowed_keys(self.model))
        )

    def count(self) -> int:
        return self.local().count() + self.snapshot().count()

    def exists(self) -> bool:
        return self.local().exists() or self.snapshot().exists()

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
        rows = [*self._fetch(self.local(), stop), *self._fetch(self.snapshot(), stop)]
        return order(rows, self.ordering)[start:stop]

    def _fetch(self, queryset, stop) -> list[Model]:
        """At most ``stop`` rows of one side, in the overlay's order, marked."""
        ordering = as_python_sorts(self.model, self.ordering, queryset.db)
        rows = list(queryset.order_by(*ordering)[:stop])
        for row in rows:
            row.shadow_source = "local" if row._state.db == LOCAL else "snapshot"
        return rows

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
        keys = {key for key in keys if key is not None}
        return {row.pk: row for row in self.filter(pk__in=keys)} if keys else {}


def as_python_sorts(model, ordering: list[str], alias: str) -> list:
    """The ordering as each database must apply it for order() to merge the
    two sides: NULLs first when ascending (SQLite's way; PostgreSQL's is the
    reverse), and text by code point (PostgreSQL's collation may not be)."""
    check_ordering(ordering)
    text = (models.CharField, models.TextField)
    expressions = []
    for field in ordering:
        name = field.lstrip("-")
        name = "pk" if name == "id" else name
        value = F(name)
        target = model._meta.pk if name == "pk" else model._meta.get_field(name)
        if connections[alias].vendor == "postgresql" and isinstance(target, text):
            value = Collate(value, "C")
        if field.startswith("-"):
            expressions.append(value.desc(nulls_last=True))
        else:
            expressions.append(value.asc(nulls_first=True))
    return expressions


def check_ordering(ordering) -> None:
    if not all(isinstance(field, str) and field.lstrip("-").isidentifier()
               for field in ordering):  # fmt: skip
        raise TypeError(f"The overlay orders by field names only, not {ordering}.")


def order(rows: list[Model], ordering: list[str]) -> list[Model]:
    """Sort as SQLite does: by each field in turn, NULLs first when ascending."""
    check_ordering(ordering)
    for field in reversed(ordering):
        name = field.lstrip("-")
        name = "pk" if name == "id" else name

        def key(row, name=name):
            value = getattr(row, name)
            return (value is not None, value)

        rows = sorted(rows, key=key, reverse=field.startswith("-"))
    return rows


def shadowed_keys(model) -> list[int]:
    """Keys whose snapshot row is hidden: edited locally, or deleted.

    Rows added locally are numbered from LOCAL_ID_START, where the snapshot has
    none, so only local copies of snapshot rows need listing: the list grows
    with what a developer changed, not with what they added.
    """
    local = model._default_manager.using(LOCAL).filter(pk__lt=settings.LOCAL_ID_START)
    dead = Tombstone.objects.using(LOCAL).filter(model=model._meta.label_lower)
    return [
        *local.order_by().values_list("pk", flat=True),
        *dead.order_by().values_list("object_id", flat=True),
    ]


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
