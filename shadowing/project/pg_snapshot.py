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

from project.management.commands import take_snapshot as steps


def take_snapshot(seed: int) -> tuple[int, str]:
    production = connections["production"]
    snapshot = connections["snapshot"].settings_dict["NAME"]
    draft = f"{snapshot}_draft_{os.getpid()}"
    emails = production_emails()
    production.close()  # TEMPLATE needs production to itself
    connections["snapshot"].close()
    run_on_server(f"CREATE DATABASE {quote(draft)} TEMPLATE {quote(name(production))}")
    try:
        with connect(draft) as db:
            users = steps.anonymize(db, seed, "%s")
            check_no_email_left(db, emails)
            steps.check_keys_below_local_range(db)
        with connect(draft, autocommit=True) as db:  # rewrite: no dead rows left
            db.execute("VACUUM FULL auth_user, django_session, django_admin_log")
        run_on_server(f"DROP DATABASE IF EXISTS {quote(snapshot)} WITH (FORCE)")
        run_on_server(f"ALTER DATABASE {quote(draft)} RENAME TO {quote(snapshot)}")
        run_on_server(
            f"ALTER DATABASE {quote(snapshot)} SET default_transaction_read_only = on"
        )
    finally:
        run_on_server(f"DROP DATABASE IF EXISTS {quote(draft)} WITH (FORCE)")
    return users, snapshot


def production_emails() -> list[str]:
    with connections["production"].cursor() as cursor:
        cursor.execute("SELECT email FROM auth_user WHERE email <> ''")
        return [row[0] for row in cursor.fetchall()]


def check_no_email_left(db, emails: list[str]) -> None:
    """Refuse the copy if any email of production is left in its users."""
    (left,) = db.execute(
        "SELECT COUNT(*) FROM auth_user WHERE username = ANY(%s) OR email = ANY(%s)"
        " OR first_name = ANY(%s) OR last_name = ANY(%s)",
        [emails] * 4,
    ).fetchone()
    if left:
        raise CommandError(f"{left} original email(s) remain in the snapshot.")


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
