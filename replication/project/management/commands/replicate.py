"""``manage.py replicate``: copy the primary into each replica, as replication would.

SQLite's online backup API takes one consistent snapshot of the primary, even
while it is being written, into a new file next to the replicas. The same
snapshot is checked (SQLite's quick_check, once a round, while the backup
runs), the new file copied next to each replica, and renamed over it: a rename is
atomic, so a reader of a replica sees the old copy or the new one, never half
of each, and a connection keeps the whole copy it opened until it closes
(Django opens one per request). Killed midway, a replica keeps its previous
copy; the next run throws the unfinished one away. A round needs room for one
more copy of each replica while it runs.
"""

import fcntl
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections, transaction
from django.db.models import F
from django.utils import timezone

from project.models import Heartbeat
from project.pinning import unpinned
from project.replicas import PRIMARY
from reviewsite.settings import read_only_uri, sqlite_path

# The files SQLite keeps beside a database: they belong to one file, and must
# never be found beside another one renamed to the same name.
SIDECARS = ["-journal", "-wal", "-shm"]
MMAP_BYTES = 2**31 - 2**16  # SQLite's own ceiling on common builds


def sqlite_file(alias: str) -> Path:
    """The file behind an alias, also when it is a ``file:...?mode=ro`` URI."""
    settings_dict = connections[alias].settings_dict
    if not settings_dict["ENGINE"].endswith("sqlite3"):
        raise CommandError(
            f"{alias} is not SQLite: a real engine replicates by itself "
            "(PostgreSQL streaming replication); `replicate` is not needed."
        )
    return sqlite_path(settings_dict["NAME"])


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
                except (sqlite3.Error, DatabaseError, OSError) as error:
                    # OSError: a full disk, a replica's folder gone.
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
        start = time.perf_counter()
        # Every connection to a replica, in any process, opens the new copy
        # at its next query (reviewsite/copies/sqlite3).
        copy(primary, list(targets.values()))
        ms = (time.perf_counter() - start) * 1000
        self.stdout.write(
            f"{beat:%H:%M:%S} copied primary to {', '.join(targets)} in {ms:.0f} ms"
        )

    def heartbeat(self):
        """Stamp the primary: each replica's copy of this row tells its age,
        and its generation, which read-your-writes compares positions with
        (pinning.py). The stamp commits before the snapshot is taken."""
        now = timezone.now()
        with unpinned(), transaction.atomic(using=PRIMARY):
            beats = Heartbeat.objects.using(PRIMARY)
            beats.get_or_create(pk=1, defaults={"beat": now})
            beats.filter(pk=1).update(beat=now, generation=F("generation") + 1)
        return timezone.localtime(now)


def copy(primary: Path, replicas: list[Path]) -> None:
    """One consistent snapshot of ``primary``, checked, put in place of each replica.

    A replica is never touched when the primary is what is broken, and a
    replica that is broken itself is simply replaced.
    """
    with one_round_at_a_time(replica.parent for replica in replicas):
        staged = [replica.with_name(replica.name + "-next") for replica in replicas]
        source, checked = same_snapshot(primary, 2)
        try:
            # The check reads the snapshot while it is copied: nothing is put
            # in place before it has passed.
            with ThreadPoolExecutor(max_workers=1) as checker:
                verdict = checker.submit(check_readable, checked)
                snapshot(source, staged[0])
                source.close()
                for other in staged[1:]:
                    shutil.copyfile(staged[0], other)  # a closed, whole file
                verdict.result()
            checked.close()  # its read transaction would hold back checkpoints
            for new, replica in zip(staged, replicas, strict=True):
                put_in_place(new, replica)
        finally:
            source.close()
            checked.close()
            for new in staged:
                remove_database(new)


@contextmanager
def one_round_at_a_time(directories: Iterable[Path]) -> Iterator[None]:
    """Two ``replicate`` at once (``--follow`` and one by hand) take turns:
    both would write the same ``-next`` files, and an older snapshot could be
    renamed over a newer one. The lock goes with the process, even killed."""
    with ExitStack() as stack:
        for directory in sorted(set(directories)):  # always in one order: no deadlock
            fd = os.open(directory, os.O_RDONLY)
            stack.callback(os.close, fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def same_snapshot(primary: Path, count: int) -> list[sqlite3.Connection]:
    """``count`` read-only connections in read transactions on one snapshot.

    A read transaction sees the last commit before it started; with the
    write lock held meanwhile (an instant: writers wait, none fails), no
    commit falls between them. One is backed up, the other checked, at once.
    """
    writer = sqlite3.connect(
        Path(primary).resolve().as_uri() + "?mode=rw",  # never a new, empty file
        uri=True, timeout=20, isolation_level=None,
    )  # fmt: skip
    readers = []
    try:
        writer.execute("BEGIN IMMEDIATE")
        for _ in range(count):
            readers.append(open_read_only(primary))
            readers[-1].execute("BEGIN")
            readers[-1].execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    finally:
        writer.close()  # rolls back: nothing was written
    return readers


def snapshot(source: sqlite3.Connection, new: Path) -> None:
    """Back ``source`` up into ``new``, all pages in one step, from the read
    transaction ``source`` has open: the snapshot it started on.

    Without a journal: nobody reads the file yet, and a copy cut short is
    thrown away, never used. It leaves in rollback-journal mode, so that it
    needs no ``-wal`` or ``-shm`` file of its own once renamed (the primary's
    pages say WAL).
    """
    remove_database(new)  # what a killed run left
    # Pages read from a mapping of the file, not one read() call each.
    source.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    target = sqlite3.connect(new, timeout=20)
    try:
        target.execute("PRAGMA journal_mode=OFF")
        target.execute("PRAGMA synchronous=OFF")
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()


def check_readable(connection: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError if the database is damaged anywhere: a
    quick check reads every page, a backup copies pages without reading them."""
    (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"the primary failed its check: {verdict}")


def put_in_place(new: Path, replica: Path) -> None:
    """Rename ``new`` over ``replica``: atomic.

    Not synced to disk: a replica is made again every round. A power cut may
    leave one damaged; the site then skips it, and the next round replaces it.
    """
    if replica.exists():
        shutil.copymode(replica, new)  # whoever could read the replica still can
    # A -wal beside the new file would be read as its own (a replica copied in
    # WAL mode by an older `replicate` left some): gone before the new file
    # comes. A reader of the old file keeps what it has open.
    for sidecar in SIDECARS:
        replica.with_name(replica.name + sidecar).unlink(missing_ok=True)
    os.replace(new, replica)


def remove_database(path: Path) -> None:
    for each in [path, *(path.with_name(path.name + s) for s in SIDECARS)]:
        each.unlink(missing_ok=True)


def open_read_only(path: Path) -> sqlite3.Connection:
    """Read-only, and an error if missing: never a new, empty primary to copy.
    Transactions are begun by hand; any thread may use it, one at a time."""
    return sqlite3.connect(
        read_only_uri(path), uri=True, timeout=20,
        isolation_level=None, check_same_thread=False,
    )  # fmt: skip
