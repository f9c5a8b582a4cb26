"""A copy the site only reads (a replica, the snapshot) cannot be written
through the site's own connection, by any path: SQLite refuses them itself."""

import hashlib
import unittest
from pathlib import Path

from django.db import DatabaseError, connections
from django.test import TransactionTestCase

from reviewsite.settings import sqlite_path


def read_only_sqlite_aliases() -> list[str]:
    return [
        alias
        for alias in connections
        if connections[alias].vendor == "sqlite"
        and "mode=ro" in str(connections[alias].settings_dict["NAME"])
    ]


class ReadOnlyCopyTests(TransactionTestCase):
    databases = "__all__"

    def setUp(self):
        self.aliases = read_only_sqlite_aliases()
        if not self.aliases:
            raise unittest.SkipTest("no read-only SQLite copy in this project")

    def test_no_path_writes_a_copy(self):
        for alias in self.aliases:
            path = sqlite_path(connections[alias].settings_dict["NAME"])
            before = hashlib.sha256(path.read_bytes()).hexdigest()
            writable = f"{path.resolve().as_uri()}?mode=rw"
            table = connections[alias].introspection.table_names()[0]
            bypasses = [
                # The same file again, read-write, or a new file beside it.
                f"ATTACH DATABASE '{writable}' AS w",
                f"ATTACH DATABASE '{path}.new' AS w",
                f"VACUUM INTO '{path}.copy'",
                "PRAGMA query_only = OFF",
                "PRAGMA writable_schema = ON",
                f'DELETE FROM "{table}"',
                "CREATE TEMP TABLE scratch (x)",
            ]
            for sql in bypasses:
                with (
                    self.subTest(alias=alias, sql=sql),
                    self.assertRaises(DatabaseError),
                    connections[alias].cursor() as cursor,
                ):
                    cursor.execute(sql)
            self.assertFalse(Path(f"{path}.new").exists())
            self.assertFalse(Path(f"{path}.copy").exists())
            with connections[alias].cursor() as cursor:  # still reads
                cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            after = hashlib.sha256(path.read_bytes()).hexdigest()
            self.assertEqual(after, before, alias)
