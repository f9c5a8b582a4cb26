"""9. Admin: the review changelist of every shard at a million reviews, with
a PostgreSQL server per shard.

The sharding admin's /admin/reviews/review/ lists the reviews of all 4
shards merged, newest first, 100 a page (project/admin.py: AllShards).
Three pages, each asked by a logged-in superuser through Django's test
client in a child process of this script (shard_servers.Child): page 1,
page 1,000 (?p=1000: the 99,901st to 100,000th newest) and a search of the
review text (?q=...). The goal is a time, not a ratio: at most 300 ms each,
so each is held against 0.3 s with a goal of 1x. The three are asked in
turn, round after round; the median counts.

Every page timed is checked against an oracle read from the shards (the
newest reviews of each, merged newest first, matching the search where
there is one): the ids the page lists, in their order, the count it shows,
and no shard named as missing.
"""

import re
import statistics
import sys
import time
from pathlib import Path

from common import Result, check, main, serve
from shard_servers import (
    Child,
    Site,
    load,
    newest,
    now,
    setup_django,
    shard_servers,
)

BENCHMARK = "9. Admin"
GOAL_SECONDS = 0.3
SEARCH = "disappointing"  # in about 1 review in 60 (an opener of a 1-star one)
ROW = re.compile(r'<th class="field-id"><a href="/admin/reviews/review/([0-9]+)/')


# The child: the changelist of one site.


class Changelist:
    def __init__(self) -> None:
        setup_django()
        from django.contrib import admin
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.urls import reverse

        from reviewsite.reviews.models import Review

        boss, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_staff": True, "is_superuser": True}
        )
        self.client = Client()
        self.client.force_login(boss)
        self.url = reverse("admin:reviews_review_changelist")
        self.per_page = admin.site.get_model_admin(Review).list_per_page

    def time(self, page: int, search: str) -> float:
        """The changelist's ``page`` (of a search, if any), timed, then checked."""
        params = {"p": page} if page > 1 else {}
        params |= {"q": search} if search else {}
        start = time.perf_counter()
        # secure: DJANGO_DEBUG=0 redirects plain HTTP to HTTPS, as in production.
        response = self.client.get(self.url, params, secure=True)
        seconds = time.perf_counter() - start
        check(response.status_code == 200, f"{params} answered {response.status_code}")
        html = response.content.decode()
        check("are missing here" not in html, f"{params}: a shard did not answer")
        shown = [int(pk) for pk in ROW.findall(html)]
        filters = {"text__icontains": search} if search else {}
        count = matching(filters)
        check(f"\n{count} review" in html, f"{params}: the count is not {count}")
        expected = newest(page * self.per_page, **filters)[(page - 1) * self.per_page :]
        check(expected, f"{params}: the oracle has no reviews there")
        if shown != expected:
            pairs = enumerate(zip(shown, expected, strict=False))
            first = next(
                (i for i, (a, b) in pairs if a != b), min(len(shown), len(expected))
            )
            raise AssertionError(
                f"{params} lists {len(shown)} reviews, not the {len(expected)} "
                f"of the oracle: first difference at row {first}"
            )
        return seconds


def matching(filters: dict) -> int:
    """Oracle: how many reviews of every shard match."""
    from django.conf import settings

    from reviewsite.reviews.models import Review

    return sum(
        Review.objects.using(alias).filter(**filters).count()
        for alias in settings.SHARDS
    )


# The parent.


def run(quick: bool, workdir: Path) -> list[Result]:
    reviews, deep = (3_000, 20) if quick else (1_000_000, 1_000)
    rounds = 1 if quick else 9
    where = "one server (quick)" if quick else "a server each"
    pages = {
        "page 1": (1, ""),
        f"page {deep:,}": (deep, ""),
        f"search {SEARCH!r}": (1, SEARCH),
    }
    times = {name: [] for name in pages}
    with shard_servers(4, quick) as servers:
        site = Site("4 shards", servers)
        child = None
        try:
            load([site], reviews, now())
            child = Child(__file__, site)
            for page, search in pages.values():  # warm: templates, connections
                child.ask("time", page, search)
            for _ in range(rounds):
                for name, (page, search) in pages.items():
                    times[name].append(child.ask("time", page, search))
        finally:
            if child is not None:
                child.close()
            site.drop()
    return [
        Result(
            benchmark=BENCHMARK,
            case=f"changelist {name}, {reviews:,} reviews, 4 shards, {where}",
            subject=f"/admin/reviews/review/ {name}",
            baseline=f"{GOAL_SECONDS * 1000:g} ms (the goal)",
            subject_s=statistics.median(times[name]),
            baseline_s=GOAL_SECONDS,
            goal=1.0,
            notes={"rounds": rounds, "max s": max(times[name])},
        )
        for name in pages
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(Changelist)
    else:
        main(run)
