"""4. Fan-out: the site's review figures (count, rated count and sum of the
ratings of every shard, added up: ``project.stitch.site_figures``, what
/shards/ shows) asked of the 4 shards at once, against the same query
(``project.stitch.shard_figures``) asked of one shard after another in the
calling thread.

On the million-review dataset each shard's query reads its 250,000 rows, so
the shards' work, not the fan-out's, is what is timed. Both ways must give
the same figures, and the same as an oracle: every rating of every shard,
read and added up here.
"""

from pathlib import Path

from common import Result, interleaved, main, setup_django
from sharding_data import dataset

BENCHMARK = "4. Fan-out"
GOAL = 1.6


def oracle() -> tuple[int, int, int]:
    """(reviews, rated, sum of ratings) of every shard, added up in Python."""
    from django.conf import settings

    from reviewsite.reviews.models import Review

    ratings = []
    for alias in settings.SHARDS:
        ratings += Review.objects.using(alias).values_list("rating", flat=True)
    rated = [r for r in ratings if r is not None]
    return len(ratings), len(rated), sum(rated)


def run(quick: bool, workdir: Path) -> list[Result]:
    reviews = 3_000 if quick else 1_000_000
    rounds = 5 if quick else 40
    setup_django("sharding", dataset(workdir, reviews))
    from project import shardmap
    from project.stitch import SiteFigures, shard_figures, site_figures

    owned = shardmap.ownership()

    def parallel() -> SiteFigures:
        figures, fan = site_figures(owned)
        if fan.failed:
            raise AssertionError(f"shards did not answer: {fan.failed}")
        return figures

    def sequential() -> SiteFigures:
        return SiteFigures.combine(
            shard_figures(alias, owned[alias]) for alias in owned
        )

    expected = SiteFigures(*oracle())
    for name, figures in [("parallel", parallel()), ("sequential", sequential())]:
        if figures != expected:
            raise AssertionError(
                f"{name} figures {figures} differ from the oracle's {expected}"
            )
    if len(owned) != 4:
        raise AssertionError(f"expected 4 shard databases, the map names {list(owned)}")

    subject_s, baseline_s = interleaved(parallel, sequential, rounds)
    return [
        Result(
            benchmark=BENCHMARK,
            case=f"site figures, {reviews:,} reviews, 4 shards",
            subject="4 shards at once (site_figures)",
            baseline="one shard after another",
            subject_s=subject_s,
            baseline_s=baseline_s,
            goal=GOAL,
            kind="speedup",
            notes={"rounds": rounds, "reviews": expected.reviews},
        )
    ]


if __name__ == "__main__":
    main(run)
