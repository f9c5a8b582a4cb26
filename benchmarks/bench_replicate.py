"""5. Replication: ``manage.py replicate`` against a plain file copy (issue 9).

Subject: one round of ``replicate`` (heartbeat on the primary, one backup-API
snapshot, its quick_check, a copy beside each replica, and a rename),
run in this process with call_command, once the project is set up.

Baseline: what a person would do by hand, in this process too: checkpoint
the primary's WAL into its file (``PRAGMA wal_checkpoint(TRUNCATE)``; a copy
of a WAL-mode database without it misses the commits still in the WAL), then
``shutil.copyfile`` of the primary to each replica's path. It is consistent
only because nothing writes the primary meanwhile, and checks nothing;
``replicate`` is consistent while the primary is written, and checks what it
copies. Neither syncs to disk. Neither side pays for
starting a process.

Both run on the same files, in alternation, several rounds; the medians are
compared. After the timing, one more ``replicate`` is checked: each replica
holds exactly the primary's rows (a digest of every review row, in id order),
passes an integrity check, and refuses writes when opened read-only, as the
site opens it.
"""

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

from common import (
    Result,
    check,
    interleaved,
    main,
    manage,
    setup_django,
    subprocess_env,
)

FULL_REVIEWS = 1_000_000
QUICK_REVIEWS = 2_000


def populate(sqlite_dir: Path, reviews: int) -> None:
    """The demo data, by setup_demo in its own process (idempotent: data
    already there is kept)."""
    sqlite_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        manage("replication", sqlite_dir, "setup_demo", "--reviews", str(reviews)),
        env=subprocess_env(sqlite_dir),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def file_copy(primary: Path, replicas: list[Path]) -> None:
    """The baseline: checkpoint, then one plain file copy per replica."""
    connection = sqlite3.connect(primary, timeout=20)
    try:
        (busy, _, _) = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    check(not busy, "the checkpoint could not finish: the copy would not be whole")
    for replica in replicas:
        shutil.copyfile(primary, replica)


def rows_digest(path: Path) -> tuple[int, str]:
    """How many reviews, and a digest of every review row in id order."""
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        digest, count = hashlib.sha256(), 0
        for row in connection.execute("SELECT * FROM reviews_review ORDER BY id"):
            digest.update(repr(row).encode())
            count += 1
        return count, digest.hexdigest()
    finally:
        connection.close()


def check_replicas(primary: Path, replicas: dict[str, Path]) -> int:
    """Raise AssertionError unless every replica is a whole copy of the primary."""
    from django.db import connections

    from project.models import Heartbeat
    from reviewsite.reviews.models import Review

    expected = rows_digest(primary)
    beat = Heartbeat.objects.using("default").get(pk=1).beat
    for alias, path in replicas.items():
        count, digest = rows_digest(path)
        check(
            count == expected[0],
            f"{alias} has {count:,} reviews, the primary {expected[0]:,}",
        )
        check(
            digest == expected[1], f"{alias} holds other review rows than the primary"
        )
        # The site's own view of the replica: its read-only Django connection.
        site_count = Review.objects.using(alias).count()
        check(
            site_count == expected[0],
            f"the site reads {site_count:,} reviews on {alias}, not {expected[0]:,}",
        )
        copied_beat = Heartbeat.objects.using(alias).get(pk=1).beat
        check(copied_beat == beat, f"{alias} has heartbeat {copied_beat}, not {beat}")
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
            check(verdict == "ok", f"{alias} failed its integrity check: {verdict}")
            try:
                connection.execute("DELETE FROM reviews_review")
            except sqlite3.OperationalError as error:
                check("readonly" in str(error), f"{alias}: {error}")
            else:
                raise AssertionError(f"{alias} accepted a write when opened read-only")
        finally:
            connection.close()
        connections[alias].close()
    return expected[0]


def run(quick: bool, workdir: Path) -> list[Result]:
    reviews = QUICK_REVIEWS if quick else FULL_REVIEWS
    sqlite_dir = workdir / f"replication-{reviews}"
    populate(sqlite_dir, reviews)
    setup_django("replication", sqlite_dir)

    from django.conf import settings
    from django.core.management import call_command

    from project.management.commands.replicate import sqlite_file

    primary = sqlite_file("default")
    replicas = {alias: sqlite_file(alias) for alias in settings.REPLICAS}

    def replicate() -> None:
        with open("/dev/null", "w") as quiet:
            call_command("replicate", stdout=quiet)

    rounds = 3 if quick else 5
    subject_s, baseline_s = interleaved(
        replicate, lambda: file_copy(primary, list(replicas.values())), rounds
    )
    replicate()  # the baseline went last: the replicas are plain copies now
    count = check_replicas(primary, replicas)
    return [
        Result(
            benchmark="5. Replication",
            case=f"{count:,} reviews, {len(replicas)} replicas",
            subject="replicate",
            baseline="file copy (shutil.copyfile)",
            subject_s=subject_s,
            baseline_s=baseline_s,
            goal=2.0,
            kind="ratio",
            notes={
                "primary MB": round(primary.stat().st_size / 1e6, 1),
                "reviews": count,
                "replicas": len(replicas),
                "rounds": rounds,
                "timed": "in-process: call_command vs checkpoint + shutil.copyfile",
            },
        )
    ]


if __name__ == "__main__":
    main(run)
