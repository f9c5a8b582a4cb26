"""SQLite, for a database file replaced whole by renaming a new copy over it:
a replica made by ``replicate``, a snapshot made by ``take_snapshot``.

An open SQLite connection keeps reading the file it opened, even after another
file is renamed over its name. A connection kept between requests
(CONN_MAX_AGE), or by a process that serves no requests (a shell, a worker),
would read the old copy for ever, and measure its lag on it. Before each query
outside a transaction, this backend checks that the name still leads to the
file it opened (one stat(), no query), and opens the new one if not.

A copy opened read-only (a ``mode=ro`` URI) is read-only by construction, not
only by its file mode: no ATTACH (which could open the same file read-write,
or create files: ``VACUUM INTO`` too), ``PRAGMA query_only``, and an
authorizer that refuses every write and every pragma that sets something.
"""

import os
import sqlite3
import weakref

from django.db.backends.sqlite3 import base

from reviewsite.settings import sqlite_path


def file_identity(name) -> tuple[int, int] | None:
    """The file ``name`` (a path or a ``file:`` URI) leads to now; None if none."""
    try:
        info = os.stat(sqlite_path(name))
    except OSError:
        return None
    return info.st_dev, info.st_ino


WRITES = {
    getattr(sqlite3, f"SQLITE_{action}")
    for action in [
        "INSERT", "UPDATE", "DELETE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX",
        "ANALYZE", "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX",
        "CREATE_TEMP_TABLE", "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW",
        "CREATE_TRIGGER", "CREATE_VIEW", "CREATE_VTABLE", "DROP_INDEX",
        "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "DROP_VTABLE",
    ]
}  # fmt: skip
# Pragmas whose argument names what to read (Django's introspection), not a
# value to set.
READING_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info",
                   "index_xinfo", "foreign_key_list", "foreign_key_check"}  # fmt: skip


def only_reads(action, name, argument, database, trigger) -> int:
    """sqlite3 authorizer: refuse every write, and every pragma that sets."""
    if action == sqlite3.SQLITE_UPDATE and name == "sqlite_master":
        # Asked of every table-valued function (json_each) as it starts; a
        # real write there needs writable_schema, a pragma refused below.
        return sqlite3.SQLITE_OK
    if action in WRITES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and argument is not None:
        return (
            sqlite3.SQLITE_OK
            if name.lower() in READING_PRAGMAS
            else sqlite3.SQLITE_DENY
        )
    return sqlite3.SQLITE_OK


def lock_down(connection: sqlite3.Connection) -> None:
    connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    connection.execute("PRAGMA query_only = ON")
    connection.set_authorizer(only_reads)


class Cursor(base.SQLiteCursorWrapper):
    closed = False

    def close(self):
        self.closed = True
        super().close()


class DatabaseWrapper(base.DatabaseWrapper):
    opened: tuple[int, int] | None = None

    def get_new_connection(self, conn_params):
        # Looked at before opening: a copy renamed over the name in between is
        # taken for a new one at the next query, and opened again then (once
        # too often, never missed).
        self.opened = file_identity(self.settings_dict["NAME"])
        self.cursors = weakref.WeakSet()
        connection = super().get_new_connection(conn_params)
        if "mode=ro" in str(self.settings_dict["NAME"]):
            lock_down(connection)
        return connection

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=Cursor)
        self.cursors.add(cursor)
        return cursor

    def close_if_health_check_failed(self):
        """Django's hook before each query, for a connection gone bad: one whose
        copy was replaced is, once no transaction and no cursor still being
        read (a chunked .iterator()) needs the old copy."""
        if (
            self.connection is not None
            and not self.in_atomic_block
            and self.get_autocommit()
            and not any(not cursor.closed for cursor in self.cursors)
            and file_identity(self.settings_dict["NAME"]) != self.opened
        ):
            self.close()
        super().close_if_health_check_failed()
