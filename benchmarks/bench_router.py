"""3. Router cost: a review fetched by its id alone, the router finding its
shard from the id (``Review.objects.get(pk=id)``), against the same fetch
with the shard named (``Review.objects.using(shard).get(pk=id)``), which
skips the router.

Ids are sampled from every shard, in a shuffled order. Every id is fetched
both ways once before timing (both ways must return the same review, from
its shard), so the rows are in the page cache and the connections open. Then
each round fetches the next batch of ids both ways, alternating which goes
first (ABBA), and the medians of the rounds are compared.
"""

import random
import statistics
import time
from itertools import cycle
from pathlib import Path

from common import Result, main, setup_django
from sharding_data import dataset

BENCHMARK = "3. Router cost"
GOAL = 1.05
FIELDS = ["id", "product_id", "author_id", "rating", "text", "created"]


def sample_ids(per_shard: int, rng: random.Random) -> dict[int, str]:
    """``per_shard`` review ids of each shard, with the shard holding them."""
    from django.conf import settings

    from reviewsite.reviews.models import Review

    where = {}
    for alias in settings.SHARDS:
        ids = list(Review.objects.using(alias).values_list("id", flat=True))
        for pk in rng.sample(ids, min(per_shard, len(ids))):
            where[pk] = alias
    return where


def check(where: dict[int, str]) -> None:
    """The router and .using() give the same review, read from its shard."""
    from reviewsite.reviews.models import Review

    for pk, alias in where.items():
        routed = Review.objects.get(pk=pk)
        named = Review.objects.using(alias).get(pk=pk)
        if routed._state.db != alias:
            raise AssertionError(
                f"review {pk} is on {alias}, the router read {routed._state.db}"
            )
        a, b = ([getattr(r, f) for f in FIELDS] for r in (routed, named))
        if a != b:
            raise AssertionError(
                f"review {pk}: the router gave {a}, .using({alias}) {b}"
            )


def run(quick: bool, workdir: Path) -> list[Result]:
    reviews = 1_000 if quick else 1_000_000
    per_shard, batch, rounds = (50, 50, 5) if quick else (2_500, 200, 300)
    setup_django("sharding", dataset(workdir, reviews))
    from reviewsite.reviews.models import Review

    rng = random.Random(2010)
    where = sample_ids(per_shard, rng)
    ids = list(where)
    rng.shuffle(ids)
    check(where)  # also the warm-up: every row read once both ways
    batches = cycle([ids[i : i + batch] for i in range(0, len(ids), batch)])

    def routed(pks: list[int]) -> float:
        start = time.perf_counter()
        for pk in pks:
            Review.objects.get(pk=pk)
        return time.perf_counter() - start

    def named(pks: list[int]) -> float:
        start = time.perf_counter()
        for pk in pks:
            Review.objects.using(where[pk]).get(pk=pk)
        return time.perf_counter() - start

    subject, baseline = [], []
    for n in range(rounds):
        pks = next(batches)
        if n % 2:
            baseline.append(named(pks))
            subject.append(routed(pks))
        else:
            subject.append(routed(pks))
            baseline.append(named(pks))
    return [
        Result(
            benchmark=BENCHMARK,
            case=f"get by id, {reviews:,} reviews, 4 shards, {batch} ids a round",
            subject="Review.objects.get(pk=id) (the router)",
            baseline="Review.objects.using(shard).get(pk=id)",
            subject_s=statistics.median(subject) / batch,
            baseline_s=statistics.median(baseline) / batch,
            goal=GOAL,
            notes={"ids": len(ids), "rounds": rounds, "batch": batch},
        )
    ]


if __name__ == "__main__":
    main(run)
