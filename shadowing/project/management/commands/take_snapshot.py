"""``manage.py take_snapshot``: copy production into the snapshot, anonymized.

The copy is made beside the snapshot with SQLite's backup API, anonymized,
checked (no original email may remain), and only then swapped in, in one
rename: the site reads the old snapshot or the new one, never a half-done one.
"""

import hashlib
import os
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from project.anonymize import anonymize, personal_values_left, watch_list
from reviewsite.settings import sqlite_path

SIDECARS = ["-journal", "-wal", "-shm"]


def sqlite_file(alias: str) -> Path:
    settings_dict = connections[alias].settings_dict
    if not settings_dict["ENGINE"].endswith("sqlite3"):
        raise CommandError(
            f"{alias} is not SQLite: use your engine's dump and restore."
        )
    return sqlite_path(settings_dict["NAME"])


class Command(BaseCommand):
    help = "Copy production into the read-only snapshot, anonymizing personal data."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed", type=int, default=2010, help="Same seed, same names."
        )

    def handle(self, *args, seed, **options):
        if connections["snapshot"].vendor == "postgresql":
            from project.pg_snapshot import reaches_production, take_snapshot

            users, name, reader = take_snapshot(seed)
            self.stdout.write(
                f"Snapshot taken: {users} users anonymized, no original email "
                f"left (database {name}, "
                + (
                    f"read by role {reader}, which can only SELECT)."
                    if reader
                    else "read-only by default only: the site reads it as its "
                    "owner; give DATABASE_URL_SNAPSHOT a user of its own)."
                )
            )
            if reader and reaches_production(reader):
                self.stdout.write(
                    f"Note: {reader} may connect to production too (CONNECT is "
                    "PUBLIC's there): REVOKE CONNECT ON DATABASE ... FROM PUBLIC "
                    "on production, and grant it to the roles that need it."
                )
            return
        production, snapshot = sqlite_file("production"), sqlite_file("snapshot")
        if not production.exists():
            raise CommandError(
                f"No production database at {production}: run setup_demo."
            )
        # A draft of this run's own (two runs never share one), beside the
        # snapshot so that the rename is atomic, and gone whatever happens.
        fd, name = tempfile.mkstemp(".draft", snapshot.name + ".", snapshot.parent)
        os.close(fd)
        draft = Path(name)
        try:
            copy(production, draft)
            users = anonymize_file(draft, seed)
            content = draft.read_bytes()  # read once, for the check and the stamp
            check_no_email_left(production, content)
            check_no_personal_value_left(production, draft)
            with sqlite3.connect(draft) as db:
                check_keys_below_local_range(db)
                stamp_identity(db, content)
            db.close()
            connections["snapshot"].close()
            # SQLite's own files beside the old snapshot belong to it alone;
            # anything else there (a backup someone made) is not ours.
            for suffix in SIDECARS:
                snapshot.with_name(snapshot.name + suffix).unlink(missing_ok=True)
            os.replace(draft, snapshot)
        finally:
            draft.unlink(missing_ok=True)
        digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()[:16]
        self.stdout.write(
            f"Snapshot taken: {users} users anonymized, no original email left "
            f"(sha256 {digest}...)."
        )


def stamp_identity(db: sqlite3.Connection, content: bytes) -> None:
    """Name this snapshot in its header (``PRAGMA user_version``), from its
    content: the overlay's caches are keyed on it, read through the very
    connection that reads the rows. The same content, the same name."""
    digest = hashlib.sha256(content).digest()
    identity = int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1
    db.execute(f"PRAGMA user_version = {identity}")


def copy(source: Path, target: Path) -> None:
    """A consistent copy, in rollback-journal mode so read-only readers need no -shm."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    src.close()
    dst.close()


def anonymize_file(path: Path, seed: int) -> int:
    """anonymize(), then the file rebuilt so that no old value is left in a
    free page. The same production and seed give the same file, byte for byte."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA secure_delete = ON")  # overwrite what is deleted
        users = anonymize(db, seed, "?")
    db.execute("VACUUM")  # outside the transaction: a fresh file, live rows only
    db.close()
    return users


def check_no_personal_value_left(production: Path, draft: Path) -> None:
    """Refuse the copy if any production name, username or email is left in
    any of its text columns (a review signed with a real name)."""
    with sqlite3.connect(production) as prod, sqlite3.connect(draft) as db:
        left = personal_values_left(db, watch_list(prod), "?")
    prod.close()
    db.close()
    if left:
        raise CommandError(
            f"{len(left)} personal value(s) of production remain in the snapshot."
        )


def check_no_email_left(production: Path, content: bytes) -> None:
    """Refuse the copy if any email of production is left anywhere in its file
    (any table, any page, free or not)."""
    with sqlite3.connect(production) as prod:
        emails = {
            row[0] for row in prod.execute("SELECT email FROM auth_user") if row[0]
        }
    prod.close()
    if left := emails_in(content, emails):
        raise CommandError(f"{len(left)} original email(s) remain in the snapshot.")


def emails_in(data: bytes, emails: set[str]) -> set[str]:
    """The emails found anywhere in ``data``: one pass over it per domain,
    each "@domain" found checked against the names before it. (One pass per
    email took half an hour for 20,000 users over a 400 MB file.)"""
    names_at = defaultdict(set)
    for email in emails:
        name, _, domain = email.rpartition("@")
        names_at[f"@{domain}".encode()].add(name.encode())
    found = set()
    for domain, names in names_at.items():
        longest = max(map(len, names))
        at = data.find(domain)
        while at != -1:
            before = data[max(0, at - longest) : at]
            tails = {before[-n:] for n in range(1, len(before) + 1)}
            found |= {(name + domain).decode() for name in tails & names}
            at = data.find(domain, at + 1)
    return found


def check_keys_below_local_range(db) -> None:
    """Refuse a snapshot with keys where local rows are numbered: the overlay
    could no longer tell a local addition from a snapshot row."""
    start = settings.LOCAL_ID_START
    for label in settings.SHADOW_MODELS:
        table = apps.get_model(label)._meta.db_table
        (top,) = db.execute(f'SELECT MAX(id) FROM "{table}"').fetchone()
        if top is not None and top >= start:
            raise CommandError(
                f"{label} has key {top} in production, at or above "
                f"LOCAL_ID_START ({start}): raise LOCAL_ID_START in settings."
            )
