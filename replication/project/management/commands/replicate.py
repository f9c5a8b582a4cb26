"""``manage.py replicate``: copy the primary into each replica, as replication would.

SQLite's online backup API copies a consistent snapshot of the primary, even
while it is being written, and writes each replica in one transaction: a
reader of a replica sees the old copy or the new one, never half of each.
Killed midway, a replica keeps its previous copy.
"""

import sqlite3
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections
from django.utils import timezone

from project.models import Heartbeat
from project.replicas import PRIMARY
from reviewsite.settings import read_only_uri


def sqlite_file(alias: str) -> Path:
    """The file behind an alias, also when it is a ``file:...?mode=ro`` URI."""
    settings_dict = connections[alias].settings_dict
    if not settings_dict["ENGINE"].endswith("sqlite3"):
        raise CommandError(
            f"{alias} is not SQLite: a real engine replicates by itself "
            "(PostgreSQL streaming replication); `replicate` is not needed."
        )
    name = str(settings_dict["NAME"])
    return Path(unquote(urlparse(name).path) if name.startswith("file:") else name)


def positive_seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= 3600:
        raise ValueError(value)
    return seconds


class Command(BaseCommand):
    help = "Copy the primary database into each replica (SQLite's backup API)."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="Keep copying.")
        parser.add_argument(
            "--interval",
            type=positive_seconds,
            default=5.0,
            help="Seconds, with --follow.",
        )
        parser.add_argument(
            "--replica", action="append", choices=settings.REPLICAS,
            help="Only this replica (repeatable). Default: all.",
        )  # fmt: skip

    def handle(self, *args, follow, interval, replica, **options):
        primary = sqlite_file(PRIMARY)
        if not primary.exists():
            raise CommandError(f"No primary at {primary}: run `manage.py setup_demo`.")
        targets = {alias: sqlite_file(alias) for alias in replica or settings.REPLICAS}
        try:
            while True:
                try:
                    self.replicate(primary, targets)
                except (sqlite3.Error, DatabaseError) as error:
                    if not follow:
                        raise CommandError(f"Not replicated: {error}") from error
                    # A replication stream outlives a bad moment of the primary.
                    self.stderr.write(f"Not replicated this round: {error}")
                    connections.close_all()
                if not follow:
                    break
                time.sleep(interval)  # the lag a reader can see, on purpose
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def replicate(self, primary: Path, targets: dict[str, Path]) -> None:
        beat = self.heartbeat()
        for alias, path in targets.items():
            start = time.perf_counter()
            copy(primary, path)
            ms = (time.perf_counter() - start) * 1000
            self.stdout.write(
                f"{beat:%H:%M:%S} copied primary to {alias} in {ms:.0f} ms"
            )

    def heartbeat(self):
        """Stamp the primary: each replica's copy of this row tells its age."""
        now = timezone.now()
        Heartbeat.objects.using(PRIMARY).update_or_create(pk=1, defaults={"beat": now})
        return timezone.localtime(now)


def copy(primary: Path, replica: Path) -> None:
    """One consistent copy of ``primary`` into ``replica``, in one transaction.

    A replica file that is not a database any more (corrupted) is replaced;
    a replica is never touched when the primary is what is broken.
    """
    check_readable(primary)  # a backup copies pages without reading them
    try:
        backup(primary, replica)
    except sqlite3.OperationalError:
        raise  # busy, locked, missing: a reason to try again, never to delete
    except sqlite3.DatabaseError:  # "file is not a database": the replica
        for path in [replica, *replica.parent.glob(replica.name + "-*")]:
            path.unlink(missing_ok=True)
        backup(primary, replica)


def check_readable(primary: Path) -> None:
    """Raise sqlite3.DatabaseError if the primary is damaged anywhere: a quick
    check reads every page (a second on a million reviews), a backup does not."""
    source = open_read_only(primary)
    try:
        (verdict,) = source.execute("PRAGMA quick_check").fetchone()
    finally:
        source.close()
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"the primary failed its check: {verdict}")


def open_read_only(path: Path) -> sqlite3.Connection:
    """Read-only, and an error if missing: never a new, empty primary to copy."""
    return sqlite3.connect(read_only_uri(path), uri=True, timeout=20)


def backup(primary: Path, replica: Path) -> None:
    source = open_read_only(primary)
    try:
        target = sqlite3.connect(replica, timeout=20)
        try:
            source.backup(target)  # all pages in one step: one snapshot
        finally:
            target.close()
    finally:
        source.close()
