"""One ordering by field names, the same on every database and in Python, for
rows that come from several databases and are merged (heapq.merge) or placed
(bisect) in it.

Each field in turn, larger first where it starts with "-", and NULLs first
when ascending: SQLite's order, which the projects ask PostgreSQL for too
(``NULLS FIRST`` ascending, ``NULLS LAST`` descending), with text by code
point (PostgreSQL's collation may not be).

- ``as_sorts``: the ordering for ``order_by()`` on a database;
- ``sort_key``: the same ordering as a Python key, for a row;
- ``preceding``: a filter for the rows that come before a row in it."""

from django.db import connections, models
from django.db.models import F, Q
from django.db.models.functions import Collate
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
)


def sort_name(field: str) -> str:
    """The attribute a field of an ordering reads ("id" is the key, "pk")."""
    name = field.lstrip("-")
    return "pk" if name == "id" else name


def as_sorts(model, ordering: list[str], alias: str) -> list:
    """The ordering as database ``alias`` must apply it to agree with the others."""
    expressions = []
    for field in ordering:
        column, target = _column(model, sort_name(field), alias)
        # NULLS FIRST/LAST only where a NULL may be: with it, an ordinary
        # index no longer serves the order (PostgreSQL sorts the whole table
        # instead of walking the index on a NOT NULL column; SQLite walks it
        # more slowly).
        nulls = target.null or None
        if field.startswith("-"):
            expressions.append(column.desc(nulls_last=nulls))
        else:
            expressions.append(column.asc(nulls_first=nulls))
    return expressions


def preceding(model, ordering: list[str], row, alias: str) -> Q:
    """The rows of ``model`` that come before ``row`` in ``ordering``, which
    ends on a unique field (the admin's orderings end on the key)."""
    before, tied, bound = Q(pk__in=[]), Q(), None
    for field in ordering:
        name, descending = sort_name(field), field.startswith("-")
        column, target = _column(model, name, alias)
        value = getattr(row, name)
        nulls = Q(IsNull(column, True)) if target.null else Q(pk__in=[])
        if value is None:  # first when ascending, last when descending
            earlier = Q(IsNull(column, False)) if descending else Q(pk__in=[])
            same, up_to = Q(IsNull(column, True)), Q() if descending else nulls
        else:
            bigger, smaller = GreaterThan(column, value), LessThan(column, value)
            earlier = Q(bigger) if descending else nulls | Q(smaller)
            same = Q(Exact(column, value))
            up_to = (
                Q(GreaterThanOrEqual(column, value))
                if descending
                else nulls | Q(LessThanOrEqual(column, value))
            )
        # The first field's range alone, said on its own: with only the OR
        # below, the database tests every row instead of reading a range of
        # the ordering's index.
        bound = up_to if bound is None else bound
        before |= tied & earlier
        tied &= same
    return bound & before


def _column(model, name: str, alias: str):
    target = model._meta.pk if name == "pk" else model._meta.get_field(name)
    column = F(target.attname)
    if connections[alias].vendor == "postgresql" and isinstance(
        target, (models.CharField, models.TextField)
    ):
        column = Collate(column, "C")
    return column, target


def sort_key(ordering: list[str]):
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
