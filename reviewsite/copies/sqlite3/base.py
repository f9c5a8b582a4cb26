"""SQLite, for a database file replaced whole by renaming a new copy over it:
a replica made by ``replicate``, a snapshot made by ``take_snapshot``.

An open SQLite connection keeps reading the file it opened, even after another
file is renamed over its name. A connection kept between requests
(CONN_MAX_AGE), or by a process that serves no requests (a shell, a worker),
would read the old copy for ever, and measure its lag on it. Before each query
outside a transaction, this backend checks that the name still leads to the
file it opened (one stat(), no query), and opens the new one if not.
"""

import os
import weakref
from urllib.parse import unquote, urlparse

from django.db.backends.sqlite3 import base


def file_identity(name) -> tuple[int, int] | None:
    """The file ``name`` (a path or a ``file:`` URI) leads to now; None if none."""
    name = str(name)
    path = unquote(urlparse(name).path) if name.startswith("file:") else name
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


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
        return super().get_new_connection(conn_params)

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
