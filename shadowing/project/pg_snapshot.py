"""take_snapshot on PostgreSQL: the snapshot is a database of its own.

CREATE DATABASE ... TEMPLATE copies production (a consistent copy: PostgreSQL
refuses while anyone else is connected to production, which the site never
is), the draft is anonymized and checked, then renamed into place and made
read-only by default for every session (``default_transaction_read_only``).
Unlike SQLite's rename, the swap is two statements: a reader that connects
between them finds no snapshot for a moment.

The site's snapshot alias logs in as a role of its own (the user of
DATABASE_URL_SNAPSHOT), which may connect to the snapshot and SELECT, and do
nothing else: a session can turn default_transaction_read_only off, but
not gain a privilege it was never granted.
"""

import contextlib
import os

import psycopg
from django.core.management.base import CommandError
from django.db import connections
from psycopg import sql

from project.anonymize import personal_values_left, watch_list
from project.management.commands import take_snapshot as steps


def take_snapshot(seed: int) -> tuple[int, str, str | None]:
    production = connections["production"]
    snapshot = connections["snapshot"].settings_dict["NAME"]
    draft = f"{snapshot}_draft_{os.getpid()}"
    with connections["production"].cursor() as cursor:
        production_values = watch_list(cursor)
    production.close()  # TEMPLATE needs production to itself
    connections["snapshot"].close()
    run_on_server(f"CREATE DATABASE {quote(draft)} TEMPLATE {quote(name(production))}")
    try:
        with connect(draft) as db:
            users = steps.anonymize(db, seed, "%s")
            check_no_personal_value_left(db, production_values)
            steps.check_keys_below_local_range(db)
        with connect(draft, autocommit=True) as db:  # rewrite: no dead rows left
            db.execute("VACUUM FULL")  # free text may have changed in any table
            forget_statistics(db)
        if reader := reader_role():
            allow_select_only(draft, reader)
        run_on_server(f"DROP DATABASE IF EXISTS {quote(snapshot)} WITH (FORCE)")
        run_on_server(f"ALTER DATABASE {quote(draft)} RENAME TO {quote(snapshot)}")
        run_on_server(
            f"ALTER DATABASE {quote(snapshot)} SET default_transaction_read_only = on"
        )
    finally:
        run_on_server(f"DROP DATABASE IF EXISTS {quote(draft)} WITH (FORCE)")
    return users, snapshot, reader


def reader_role() -> str | None:
    """The snapshot alias's role, if it is not production's (which owns the
    snapshot, and may write it whatever the defaults say)."""
    reader = connections["snapshot"].settings_dict["USER"]
    owner = connections["production"].settings_dict["USER"]
    return reader if reader and reader != owner else None


def allow_select_only(draft: str, reader: str) -> None:
    """Create the role if need be (LOGIN only: no superuser, no CREATEDB, no
    CREATEROLE, a member of no other role), and let it connect to the draft
    and read its tables; other roles, superusers aside, may not connect at
    all, and nobody gets TEMP tables there."""
    role, database = sql.Identifier(reader), sql.Identifier(draft)
    with connect("postgres", autocommit=True) as server:
        found = server.execute(
            "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls"
            " OR EXISTS (SELECT 1 FROM pg_auth_members WHERE member = r.oid)"
            " FROM pg_roles r WHERE rolname = %s",
            [reader],
        ).fetchone()
        if found is None:
            # Another take_snapshot may make it meanwhile.
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                server.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        elif found[0]:
            raise CommandError(
                f"The snapshot's role {reader} may do more than read (superuser, "
                "CREATEDB, CREATEROLE, BYPASSRLS, or a member of another role, "
                "such as pg_write_all_data): give DATABASE_URL_SNAPSHOT a user "
                "of its own, which take_snapshot creates SELECT-only."
            )
        if password := connections["snapshot"].settings_dict["PASSWORD"]:
            server.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password))
            )
        server.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database)
        )
        server.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role)
        )
    with connect(draft, autocommit=True) as db:
        # What production granted came with the copy: taken back first.
        for kind in ["TABLES", "SEQUENCES", "FUNCTIONS"]:
            db.execute(
                sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA public FROM PUBLIC, {}").format(
                    sql.SQL(kind), role
                )
            )
        db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # A large object is written without any table: none may be made.
        db.execute(
            "REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer),"
            " lo_from_bytea(oid, bytea), lo_import(text), lo_import(text, oid)"
            " FROM PUBLIC"
        )
        db.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        db.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role)
        )


def reaches_production(reader: str) -> bool:
    """Whether the snapshot's role may connect to production (CONNECT is
    PUBLIC's on a new database): a session of it there, idle, stops the next
    take_snapshot, and what production grants PUBLIC it may read."""
    production = connections["production"].settings_dict["NAME"]
    with connect("postgres", autocommit=True) as server:
        (allowed,) = server.execute(
            "SELECT has_database_privilege(%s, %s, 'CONNECT')", [reader, production]
        ).fetchone()
    return allowed


def forget_statistics(db) -> None:
    """The planner's statistics came with the TEMPLATE copy: production's most
    common values and histogram bounds (usernames, emails, names, review
    texts), readable by anyone in pg_stats. Dropped, then gathered afresh from
    the anonymized rows. (Deleting from pg_statistic takes a superuser, as
    CREATE DATABASE ... TEMPLATE of another's database does.)"""
    db.execute("DELETE FROM pg_statistic")
    db.execute("DELETE FROM pg_statistic_ext_data")
    db.execute("ANALYZE")


def check_no_personal_value_left(db, production_values) -> None:
    """Refuse the copy if any production name, username or email is left in
    any of its text columns."""
    if left := personal_values_left(db, production_values, "%s"):
        raise CommandError(
            f"{len(left)} personal value(s) of production remain in the snapshot."
        )


def run_on_server(sql: str) -> None:
    """On the maintenance database: CREATE, DROP and ALTER DATABASE."""
    with connections["production"]._nodb_cursor() as cursor:
        cursor.execute(sql)


def connect(database: str, autocommit: bool = False) -> psycopg.Connection:
    """Production's server and role, another database: the draft is writable."""
    params = connections["production"].settings_dict
    return psycopg.connect(
        dbname=database,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=autocommit,
    )


def name(connection) -> str:
    return connection.settings_dict["NAME"]


def quote(identifier: str) -> str:
    return connections["production"].ops.quote_name(identifier)
