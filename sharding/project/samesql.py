"""One queryset, compiled to SQL once, run as is on every shard.

What it buys: Django compiles a queryset to SQL each time it runs it, and a
cross-shard page runs its query on every shard, in threads that share one
interpreter: at 16 shards the latest-reviews page spent more time compiling
its query sixteen times than waiting for the shards (benchmarks/README.rst,
benchmark 8). Every shard holds the same tables, so the SQL compiled for one
shard runs on any other of the same database engine.

Only for querysets of model instances (no ``select_related``, annotations or
``values()``) read the same way on every shard. The SQL is kept on the
queryset object itself, with the query it was compiled from: filter() and
the like make a new queryset, and a query set on it (``qs.query = ...``) is
compiled again. A query changed in place after its first run is not, as
Django's own result cache does not notice it either.
"""

import threading

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models.query import ModelIterable

_compiling = threading.Lock()


def rows_on(queryset, alias: str, limit: int | None = None) -> list:
    """``list(queryset.using(alias)[:limit])``, compiled once per database
    engine and limit."""
    how = connections[alias].vendor, limit
    query, compiled = queryset.__dict__.get("_compiled_once", (None, {}))
    if query is not queryset.query or how not in compiled:
        # Once: every shard of a page asks at the same moment. Compiling
        # opens no connection, so a hung shard never holds the others here.
        with _compiling:
            query, compiled = queryset.__dict__.get("_compiled_once", (None, {}))
            if query is not queryset.query:  # the first, or a query set since
                query, compiled = queryset.query, {}
                queryset.__dict__["_compiled_once"] = query, compiled
            if how not in compiled:
                # all(): a queryset already read would slice to a list.
                compiled[how] = Compiled(queryset.all()[:limit], alias)
    return compiled[how].rows_on(alias)


class Compiled:
    """A queryset's SQL and parameters, and how to make models of its rows."""

    def __init__(self, queryset, alias: str) -> None:
        if queryset._iterable_class is not ModelIterable or (
            queryset._prefetch_related_lookups
        ):
            raise ValueError("Only querysets of model instances are compiled once.")
        self.query = queryset.query
        self.model = queryset.model
        compiler = self.query.get_compiler(alias)
        try:
            self.sql, self.params = compiler.as_sql()
        except EmptyResultSet:  # none(), or a filter no row can match
            self.sql = self.params = None
            return
        own = compiler.klass_info["select_fields"] if compiler.klass_info else []
        if own != list(range(len(compiler.select))):
            raise ValueError("Only the model's own columns are compiled once.")
        self.columns = [column for column, _, _ in compiler.select]
        self.names = [column.target.attname for column in self.columns]

    def rows_on(self, alias: str) -> list:
        if self.sql is None:
            return []
        with connections[alias].cursor() as cursor:
            cursor.execute(self.sql, self.params)
            rows = cursor.fetchall()
        # What Django makes of a column on this connection (SQLite's dates).
        compiler = self.query.get_compiler(alias)
        if converters := compiler.get_converters(self.columns):
            rows = compiler.apply_converters(rows, converters)
        width = len(self.names)  # not the columns DISTINCT's ordering adds
        return [self.model.from_db(alias, self.names, row[:width]) for row in rows]
