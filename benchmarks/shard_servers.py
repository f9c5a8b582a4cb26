"""The sharding project on PostgreSQL with a server per shard, shared by the
benchmarks that need one (shard servers, admin).

- ``shard_servers(n, quick)``: n PostgreSQL servers, one per shard, started
  by scripts/pg-sharding.sh in a directory and on ports of their own
  (BENCH_SHARD_DIR, BENCH_SHARD_PORT: /tmp/multidb-bench-shards, 5461 and
  on, away from the test suites' 5441 and on), destroyed at the end (the
  directory is deleted, and first emptied of what a stopped run left).
  Quick mode starts one and puts every shard on it: the results are checked
  there, the speed is not judged.
- ``Site``: a ``default`` database on BENCH_POSTGRES and n shard databases,
  one on each server, all named bench_...; ``load()`` fills sites with the
  project's own ``setup_demo``, ``drop()`` drops one.
- ``Child``: a site's pages served by Django's test client in a process of
  its own (a Django project is configured once per process), asked by JSON
  lines, as bench_pages does.

Sites loaded with the same seed and the same ``at`` hold the same rows, ids
included, however many shards they have: setup_demo draws the rows in the
same order and numbers them from one block of ids whatever the shard count,
so only the clock differs between two loads, and ``load()`` fixes it.
``fingerprint()`` checks it.
"""

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from common import ROOT, PageServer

SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
SHARD_DIR = os.environ.get("BENCH_SHARD_DIR", "/tmp/multidb-bench-shards")
FIRST_PORT = int(os.environ.get("BENCH_SHARD_PORT", "5461"))
PG_SHARDING = ROOT / "scripts" / "pg-sharding.sh"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


# The servers.


def pg_sharding(*args: str) -> str:
    env = {**os.environ, "PG_SHARDING_DIR": SHARD_DIR, "FIRST_PORT": str(FIRST_PORT)}
    done = subprocess.run(
        ["bash", str(PG_SHARDING), *args], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"pg-sharding.sh {' '.join(args)}:\n{done.stderr}")
    return done.stdout


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def shard_servers(count: int, quick: bool) -> Iterator[list[str]]:
    """The server of each shard: one each, or in quick mode one for them all
    (many databases dropped from the machine's server cost a checkpoint each,
    a second or more; a scratch server is deleted whole). Without PostgreSQL's
    binaries, quick mode puts them on SERVER."""
    started = 1 if quick else count
    if quick and not (PG_BIN / "initdb").exists():
        print(f"  no {PG_BIN}/initdb: every shard on {SERVER}", file=sys.stderr)
        yield [SERVER] * count
        return
    owner = Path(SHARD_DIR) / "bench.pid"
    if owner.exists() and alive(int(owner.read_text())):
        raise RuntimeError(
            f"Another benchmark (pid {owner.read_text()}) has servers in "
            f"{SHARD_DIR}: set BENCH_SHARD_DIR and BENCH_SHARD_PORT for this one."
        )
    pg_sharding("destroy")  # servers a stopped run left in our directory
    taken = [p for p in range(FIRST_PORT, FIRST_PORT + started) if listening(p)]
    if taken:
        raise RuntimeError(
            f"Ports {taken} are taken by servers that are not ours: set "
            "BENCH_SHARD_PORT to the first of a free range."
        )
    try:
        pg_sharding("start", str(started))
        owner.write_text(str(os.getpid()))
        servers = [
            f"postgres://postgres@127.0.0.1:{FIRST_PORT + n}" for n in range(started)
        ]
        yield servers * count if quick else servers
    finally:
        pg_sharding("destroy")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


# The sites.


class Site:
    """``default`` on SERVER, and shard n on the n-th server."""

    def __init__(self, label: str, servers: list[str]) -> None:
        self.label = label
        self.shards = len(servers)
        tag = f"bench_{uuid.uuid4().hex[:8]}"
        self.urls = {"default": f"{SERVER}/{tag}_default"} | {
            f"shard{n}": f"{server}/{tag}_shard{n}" for n, server in enumerate(servers)
        }

    def env(self) -> dict[str, str]:
        # The site's databases only, whatever the shell says.
        ignored = ("DATABASE_URL_", "DRAIN_SHARD_DATABASES", "SQLITE_DIR")
        env = {k: v for k, v in os.environ.items() if not k.startswith(ignored)}
        env.update(
            {f"DATABASE_URL_{alias.upper()}": url for alias, url in self.urls.items()},
            SHARD_DATABASES=str(self.shards),
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY="benchmarks-only",
            DJANGO_ALLOWED_HOSTS="testserver,localhost",
        )
        return env

    def loading(self, reviews: int, at: datetime) -> subprocess.Popen:
        """``setup_demo --reviews N`` (a database made for each alias), as of
        ``at``, started: ``load()`` waits for it."""
        command = [sys.executable, __file__, "load", str(reviews), at.isoformat()]
        return subprocess.Popen(
            command,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def drop(self) -> None:
        for url in self.urls.values():
            server, name = url.rsplit("/", 1)
            with (
                contextlib.suppress(psycopg.OperationalError),  # its server is gone
                psycopg.connect(f"{server}/postgres", autocommit=True) as db,
            ):
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def fingerprint(self) -> tuple[int, int, int]:
        """(reviews, a sum of a hash of each review's every column, of each
        product's): equal for two sites holding the same rows, whatever
        shard holds which."""
        row = """concat_ws('|', id, product_id, coalesce(author_id::text, '-'),
            coalesce(rating::text, '-'), text,
            (extract(epoch from created) * 1000000)::bigint)"""
        count = total = 0
        for alias, url in self.urls.items():
            with psycopg.connect(url) as db:
                if alias == "default":
                    products = db.execute(
                        "SELECT sum(hashtext(concat_ws('|', id, name, price)))"
                        " FROM products_product"
                    ).fetchone()[0]
                    continue
                n, hashed = db.execute(
                    f"SELECT count(*), coalesce(sum(hashtext({row})), 0)"
                    " FROM reviews_review"
                ).fetchone()
                count, total = count + n, total + hashed
        return count, total, products


def load(sites: list[Site], reviews: int, at: datetime) -> None:
    """Every site loaded at once: migrations wait on round trips, mostly."""
    loads = {site.label: site.loading(reviews, at) for site in sites}
    outputs = {label: process.communicate()[0] for label, process in loads.items()}
    for label, process in loads.items():
        if process.returncode:
            raise RuntimeError(
                f"setup_demo --reviews {reviews} failed for {label}:\n"
                f"{outputs[label][-4000:]}"
            )


def setup_demo(reviews: int, at: datetime) -> None:
    """In a process of the site: setup_demo, with its clock read as ``at``:
    the reviews' times end there, and their ids are reserved as of then."""
    setup_django()
    from django.core.management import call_command

    from project import ids
    from reviewsite.demo_data import DemoData

    ids.now_ms = lambda: int(at.timestamp() * 1000) - ids.EPOCH_MS
    draw = DemoData.reviews
    DemoData.reviews = lambda self, *args, end, **kwargs: draw(
        self, *args, end=at, **kwargs
    )
    call_command("setup_demo", reviews=reviews, stdout=sys.stderr)


# Pages, served in a process of the site.


def setup_django() -> None:
    """The sharding project on the databases the environment names."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    project = ROOT / "sharding"
    os.chdir(project)
    sys.path.insert(0, str(project))
    import django

    django.setup()


def newest(limit: int, aliases=None, **filters) -> list[int]:
    """Oracle: ids of the ``limit`` newest reviews of the shards (all by
    default), by (created, id), as one database holding them all would."""
    from django.conf import settings

    from reviewsite.reviews.models import Review

    rows = []
    for alias in settings.SHARDS if aliases is None else aliases:
        found = Review.objects.using(alias).filter(**filters)
        rows += found.order_by("-created", "-id").values_list("created", "id")[:limit]
    rows.sort(reverse=True)
    return [pk for _, pk in rows[:limit]]


class Child(PageServer):
    """A process serving one site's pages (``script serve``)."""

    def __init__(self, script: str, site: Site) -> None:
        self.site = site
        super().__init__([sys.executable, script, "serve"], site.env(), site.label)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        setup_demo(int(sys.argv[2]), datetime.fromisoformat(sys.argv[3]))
    else:
        sys.exit(f"usage: {Path(__file__).name} load REVIEWS AT")
