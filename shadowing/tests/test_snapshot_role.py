"""On PostgreSQL the site reads the snapshot as a role that can only SELECT:
turning the read-only default off, or any other way round it, still writes
nothing (the SQLite lockdown is reviewsite/tests/test_read_only_copies.py)."""

import unittest
from io import StringIO
from unittest import mock

from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections

from .helpers import SnapshotTestCase, snapshot_sha256


class SnapshotRoleTests(SnapshotTestCase):
    def setUp(self):
        super().setUp()
        if connections["snapshot"].vendor != "postgresql":
            raise unittest.SkipTest("PostgreSQL only")

    def test_the_site_reads_the_snapshot_as_a_role_that_only_selects(self):
        snapshot = connections["snapshot"]
        with snapshot.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole"
                " FROM pg_roles WHERE rolname = current_user"
            )
            user, *powers = cursor.fetchone()
        self.assertEqual(user, snapshot.settings_dict["USER"])
        self.assertNotEqual(user, connections["production"].settings_dict["USER"])
        self.assertEqual(powers, [False, False, False])

    def test_no_path_writes_the_snapshot(self):
        # Production's own grants come with its copy, and must not help.
        with connections["production"].cursor() as cursor:
            cursor.execute("GRANT UPDATE, DELETE ON reviews_review TO PUBLIC")
        try:
            call_command("take_snapshot", stdout=StringIO())
        finally:
            with connections["production"].cursor() as cursor:
                cursor.execute("REVOKE UPDATE, DELETE ON reviews_review FROM PUBLIC")
        before = snapshot_sha256(), large_objects()
        name = connections["snapshot"].settings_dict["NAME"]
        bypasses = [
            "UPDATE products_product SET name = 'Mine'",
            "INSERT INTO products_product (name, price, created)"
            " VALUES ('Mine', 1, now())",
            "DELETE FROM reviews_review",
            "TRUNCATE reviews_review",
            "ALTER TABLE products_product ADD COLUMN mine integer",
            "CREATE TABLE mine (id integer)",
            "CREATE TEMP TABLE mine (id integer)",
            "SET ROLE postgres",
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = off',
            "CREATE INDEX mine ON products_product (name)",
            "COMMENT ON TABLE products_product IS 'mine'",
            "COPY products_product FROM PROGRAM 'true'",
            "UPDATE reviews_review SET text = 'Mine'",
            "SELECT lo_from_bytea(0, 'mine')",
            "SELECT lo_create(0)",
            "SELECT lo_creat(-1)",
        ]
        for statement in bypasses:
            with self.subTest(statement), connections["snapshot"].cursor() as cursor:
                cursor.execute("SET default_transaction_read_only = off")
                cursor.execute("SET transaction_read_only = off")
                with self.assertRaises(DatabaseError):
                    cursor.execute(statement)
        connections["snapshot"].close()
        self.assertEqual((snapshot_sha256(), large_objects()), before)

    def test_a_role_that_may_do_more_than_read_is_refused(self):
        settings_dict = connections["snapshot"].settings_dict
        for power in ["CREATEDB", "IN ROLE pg_write_all_data"]:
            with connections["production"]._nodb_cursor() as cursor:
                cursor.execute("DROP ROLE IF EXISTS multidb_too_strong")
                cursor.execute(f"CREATE ROLE multidb_too_strong LOGIN {power}")
            try:
                with (
                    self.subTest(power),
                    mock.patch.dict(settings_dict, USER="multidb_too_strong"),
                    self.assertRaisesMessage(CommandError, "may do more than read"),
                ):
                    call_command("take_snapshot", stdout=StringIO())
            finally:
                with connections["production"]._nodb_cursor() as cursor:
                    cursor.execute("DROP ROLE multidb_too_strong")
        call_command("take_snapshot", stdout=StringIO())  # as the site's role
        with connections["snapshot"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM products_product")


def large_objects() -> int:
    with connections["snapshot"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_largeobject_metadata")
        return cursor.fetchone()[0]
