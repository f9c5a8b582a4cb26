"""7. Writes: review writes per second of 4 writer processes, with the reviews
on 4 PostgreSQL shard databases against all of them on 1.

Each writer is a process of its own writing reviews through the ORM, as the
site does (``Review.objects.create``: an id issued on the review's shard,
then the insert), for the products of every shard, for a fixed time. A
write asks no database but its shard; ``default`` holds the products and
the map only. Every acknowledged write must be stored, once.

PostgreSQL only (BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432):
scratch databases are made on that server and dropped at the end. All the
shard databases are on that one server, on this machine's cores: the ratio
says what sharding gives when the shards share the hardware, not what
servers of their own would give.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from common import ROOT, Result, main

BENCHMARK = "7. Writes"
GOAL = 3.0
WRITERS = 4
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")

# All writers write in the same window, once every one has started.
WRITER = """
import random, time
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
products = list(Product.objects.values_list("pk", flat=True))
rng, written = random.Random({seed}), 0
time.sleep(max(0, {start} - time.time()))
while time.time() < {start} + {seconds}:
    Review.objects.create(product_id=rng.choice(products), text="written")
    written += 1
print(written)
"""


def databases(shards: int) -> dict[str, str]:
    """DATABASE_URL_<ALIAS> of scratch databases for default and the shards."""
    tag = uuid.uuid4().hex[:8]
    aliases = ["default", *(f"shard{n}" for n in range(shards))]
    return {
        f"DATABASE_URL_{alias.upper()}": f"{SERVER}/bench_writes_{tag}_{alias}"
        for alias in aliases
    }


def drop(urls: dict[str, str]) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        for url in urls.values():
            name = url.rsplit("/", 1)[1]
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def writes_per_second(shards: int, seconds: float) -> tuple[float, dict]:
    urls = databases(shards)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL_")}
    env.update(
        urls,
        SHARD_DATABASES=str(shards),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="benchmarks-only",
        DJANGO_ALLOWED_HOSTS="testserver,localhost",
    )
    manage = [sys.executable, str(ROOT / "sharding" / "manage.py")]
    try:
        subprocess.run(
            [*manage, "setup_demo", "--products", "40", "--reviews", "0"],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
        start = time.time() + 5  # Django starts in about a second each
        codes = [
            WRITER.format(seed=n, start=start, seconds=seconds) for n in range(WRITERS)
        ]
        writers = [
            subprocess.Popen(
                [*manage, "shell", "-c", code],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for code in codes
        ]
        acknowledged = sum(int(w.communicate()[0].split()[-1]) for w in writers)
        stored = sum(
            count_reviews(url) for alias, url in urls.items() if "SHARD" in alias
        )
    finally:
        drop(urls)
    if stored != acknowledged:
        raise AssertionError(f"{acknowledged} writes acknowledged, {stored} stored")
    return acknowledged / seconds, {"writes": acknowledged, "shards": shards}


def count_reviews(url: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute("SELECT COUNT(*) FROM reviews_review").fetchone()[0]


def run(quick: bool, workdir: Path) -> list[Result]:
    seconds = 2.0 if quick else 15.0
    one, one_notes = writes_per_second(1, seconds)
    four, four_notes = writes_per_second(4, seconds)
    return [
        Result(
            benchmark=BENCHMARK,
            case=f"{WRITERS} writer processes, {seconds:g} s, PostgreSQL",
            subject="4 shard databases",
            baseline="1 shard database",
            # Seconds per 1,000 writes: lower is better, as for the others.
            subject_s=1000 / four,
            baseline_s=1000 / one,
            goal=GOAL,
            kind="speedup",
            notes={
                "writes per second": {"1 shard": round(one), "4 shards": round(four)},
                "1 shard": one_notes,
                "4 shards": four_notes,
            },
        )
    ]


if __name__ == "__main__":
    main(run)
