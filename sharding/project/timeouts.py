"""Shard statements that read a page give up in time; nothing else does.

A page read is a GET or HEAD request, or a fan-out query asked by one. On
PostgreSQL its connection gets ``statement_timeout`` (settings.
SHARD_STATEMENT_TIMEOUT_SECONDS) before it runs; anything else (a form's
write, the admin's delete of a product and its reviews, a move, a bulk load,
find_orphans, migrate) runs as long as it needs. The SET is sent only when a
connection goes from one kind of work to the other. (SQLite's timeout, a
wait for a lock, is set for every shard connection in settings.py.)
"""

from contextvars import ContextVar

from django.conf import settings
from django.db.backends.signals import connection_created

reading_a_page: ContextVar[bool] = ContextVar("reading_a_page", default=False)


def page_timeout(execute, sql, params, many, context):
    connection = context["connection"]
    seconds = settings.SHARD_STATEMENT_TIMEOUT_SECONDS if reading_a_page.get() else 0
    now = (connection.connection, int(seconds * 1000))  # the session, the value
    if getattr(connection, "page_timeout", None) != now and connection.get_autocommit():
        raw = context["cursor"].cursor  # the driver's: no wrapper runs again
        raw.execute(f"SET statement_timeout = {now[1]}")
        connection.page_timeout = now
    return execute(sql, params, many, context)


def install(sender, connection, **kwargs) -> None:
    """connection_created: on every PostgreSQL shard connection, once."""
    shards = [*settings.SHARDS, *settings.DRAINING_SHARDS]
    wrappers = connection.execute_wrappers
    if connection.vendor == "postgresql" and connection.alias in shards:
        wrappers[:] = [page_timeout, *(w for w in wrappers if w is not page_timeout)]


connection_created.connect(install)
