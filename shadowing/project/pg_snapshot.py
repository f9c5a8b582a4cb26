"""take_snapshot on PostgreSQL: the snapshot is a database of its own.

CREATE DATABASE ... TEMPLATE copies production (a consistent copy: PostgreSQL
refuses while anyone else is connected to production, which the site never
is), the draft is anonymized and checked, then renamed into place and made
read-only by default for every session (``default_transaction_read_only``).
Unlike SQLite's rename, the swap is two statements: a reader that connects
between them finds no snapshot for a moment.
"""

import os

import psycopg
from django.core.management.base import CommandError
from django.db import connections

from project.anonymize import personal_values_left, watch_list
from project.management.commands import take_snapshot as steps


def take_snapshot(seed: int) -> tuple[int, str]:
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
        run_on_server(f"DROP DATABASE IF EXISTS {quote(snapshot)} WITH (FORCE)")
        run_on_server(f"ALTER DATABASE {quote(draft)} RENAME TO {quote(snapshot)}")
        run_on_server(
            f"ALTER DATABASE {quote(snapshot)} SET default_transaction_read_only = on"
        )
    finally:
        run_on_server(f"DROP DATABASE IF EXISTS {quote(draft)} WITH (FORCE)")
    return users, snapshot


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
