"""1. Populate: ``setup_demo --reviews N`` of the sharding project (4 shards)
against the floor, raw sqlite3 executemany inserting the same rows into the
same files.

The subject is the whole command as a person runs it, in its own process:
start-up, migrations, products and users, a million reviews made and
written. The floor is only the INSERTs: the rows are made beforehand (not
timed), by the same generator with the same seed, numbered and sent to their
shards as the command does, and inserted shard after shard into the files of
a copy of the same, otherwise empty, databases, one transaction per shard,
with no trigger (setup_demo pays for counting the per-product figures at
the end of its load; the floor counts nothing).
Memory is the proportional set size of the command (and any child) sampled
every 50 ms: it should not grow with N.
"""

import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

from common import (
    PeakMemory,
    Result,
    each_size,
    manage,
    setup_django,
    sized_main,
    subprocess_env,
)

SEED = "2010"


def setup_demo(directory: Path, reviews: int) -> tuple[float, float]:
    """Seconds and peak MB of ``setup_demo --reviews N`` in a fresh directory."""
    directory.mkdir(parents=True)
    command = manage(
        "sharding", directory, "setup_demo", "--seed", SEED, "--reviews", str(reviews)
    )
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=subprocess_env(directory), stdout=subprocess.PIPE, text=True
    )
    with PeakMemory(process.pid) as memory:
        out, _ = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode or f"Created {reviews} reviews" not in out:
        raise AssertionError(f"setup_demo failed:\n{out}")
    return seconds, memory.peak_mb


def floor(directory: Path, reviews: int) -> tuple[float, dict[str, list[tuple]]]:
    """Seconds of raw executemany of the command's rows, per shard file."""
    directory.mkdir(parents=True)
    subprocess.run(
        manage("sharding", directory, "setup_demo", "--seed", SEED, "--reviews", "0"),
        env=subprocess_env(directory), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    rows = rows_per_shard(directory, reviews)
    start = time.perf_counter()
    for alias, shard_rows in rows.items():
        connection = sqlite3.connect(directory / f"{alias}.sqlite3")
        with connection:
            connection.executemany(
                "INSERT INTO reviews_review "
                "(id, product_id, author_id, rating, text, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                shard_rows,
            )
        connection.close()
    return time.perf_counter() - start, rows


def rows_per_shard(directory: Path, reviews: int) -> dict[str, list[tuple]]:
    """The rows setup_demo writes, made by its own code: same seed, same rows."""
    setup_django("sharding", directory)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from project import fence, ids, productstats, shardmap
    from project.shardkeys import logical_shard
    from reviewsite.demo_data import DemoData
    from reviewsite.products.models import Product

    data = DemoData(int(SEED))
    data.products(40), data.users(25)  # the generator's state, as in the command
    product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    author_ids = list(
        get_user_model()
        .objects.exclude(username="admin")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    owner = {n: alias for alias, owned in shardmap.ownership().items() for n in owned}
    for alias in set(owner.values()):
        # The floor is the table and its indexes: the per-product figures'
        # triggers, which setup_demo turns off and recounts, and the fence's
        # are dropped.
        productstats.uninstall(alias)
        fence.uninstall(alias)
    block = ids.reserve(reviews)
    rows = {alias: [] for alias in set(owner.values())}
    for batch in data.reviews(reviews, product_ids, author_ids, end=timezone.now()):
        for row in batch:
            logical = logical_shard(row[0])
            rows[owner[logical]].append((block.take(logical), *row[:-1], str(row[-1])))
    return rows


def stored(path: Path) -> Counter:
    """The reviews of a shard file, but their ids and times."""
    with sqlite3.connect(path) as connection:
        return Counter(
            connection.execute(
                "SELECT product_id, author_id, rating, text FROM reviews_review"
            )
        )


def run(quick: bool, workdir: Path) -> list[Result]:
    return each_size(
        __file__, [2_000] if quick else [100_000, 1_000_000], quick, workdir
    )


def measure(quick: bool, workdir: Path, reviews: int) -> list[Result]:
    subject_dir, floor_dir = (
        workdir / f"populate-{reviews}",
        workdir / f"floor-{reviews}",
    )
    floor_s, rows = floor(floor_dir, reviews)
    seconds, peak_mb = setup_demo(subject_dir, reviews)
    # The same rows on the same shards, both ways.
    for alias, shard_rows in rows.items():
        expected = Counter(tuple(row[1:5]) for row in shard_rows)
        if stored(subject_dir / f"{alias}.sqlite3") != expected:
            raise AssertionError(f"setup_demo and the floor differ on {alias}")
        if stored(floor_dir / f"{alias}.sqlite3") != expected:
            raise AssertionError(f"the floor did not store its rows on {alias}")
    if sum(len(r) for r in rows.values()) != reviews:
        raise AssertionError("the floor has the wrong number of rows")
    return [
        Result(
            benchmark="1. Populate",
            case=f"{reviews:,} reviews, 4 shards",
            subject="setup_demo (whole command)",
            baseline="raw sqlite3 executemany",
            subject_s=seconds,
            baseline_s=floor_s,
            # The goal is for a million; smaller loads show start-up's share
            # and that memory does not grow with N.
            goal=2.0 if reviews >= 1_000_000 else None,
            notes={
                "peak_mb": round(peak_mb, 1),
                "rows_per_s": round(reviews / seconds),
            },
        )
    ]


if __name__ == "__main__":
    sized_main(run, measure)
