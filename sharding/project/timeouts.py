"""Shard timeouts are for pages (settings.py). Work that reads or writes a
whole shard in one statement (a move, a bulk load) lifts them on its own
connection for as long as it runs."""

from contextlib import contextmanager

from django.db import connections


@contextmanager
def unhurried(alias: str):
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield  # SQLite's timeout is a wait for a lock, which moves need too
        return
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        if connection.connection is not None and connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
