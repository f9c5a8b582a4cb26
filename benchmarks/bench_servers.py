"""8. Shard servers: the latest-reviews page with a PostgreSQL server per
shard, at 16 shards against 4 holding the same rows, and with 1 of 8
shards hung.

Three sites, each a ``default`` database and a server per shard
(shard_servers.py): 4, 16 and 8 shards, loaded by setup_demo with the same
seed and clock, so they hold the same reviews with the same ids (checked).
Each is served by a child process of this script through Django's test
client (bench_pages' way), asked in turn.

- Spread: page 1 of /latest/ at 16 shards against 4, asked in alternation.
  Goal: median at most 1.3x.
- Hung: the same page at 8 shards while one shard server's review table is
  locked (``LOCK TABLE ... IN ACCESS EXCLUSIVE MODE`` in an open transaction
  of another session), so the page's query there waits: the page must still
  answer with the 7 others' rows, after about SHARD_TIMEOUT_SECONDS. Goal:
  median at most that timeout plus 20%. Each round times the page healthy,
  then hung, then releases the lock and waits until the fan-out has no query
  of that shard overdue: a shard with queries overdue is not asked again
  (fanout.MAX_OVERDUE_PER_SHARD), and this round is about the page that
  waits for it. The shard hung is the one holding the newest review.

Every page timed is checked against an oracle read from the shards: the
newest 20 reviews of all of them, or of the 7 healthy ones, with the hung one
named in a warning; the 4 and 16 shard pages must show the same reviews.

Quick mode: 3,000 reviews, every shard on one scratch server, and one of the
16 shards hung instead of one of a third site's 8.
"""

import re
import statistics
import sys
import time
from pathlib import Path

import psycopg
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

BENCHMARK = "8. Shard servers"
SPREAD_GOAL = 1.3  # 16 shards against 4
HUNG_GOAL = 1.2  # against SHARD_TIMEOUT_SECONDS
REVIEW_LINK = re.compile(r'href="/reviews/([0-9]+)/"')
PER_PAGE = 20


# The child: one site's latest-reviews page.


class LatestPage:
    def __init__(self) -> None:
        setup_django()
        from django.test import Client

        self.client = Client()

    def timeout(self) -> float:
        from django.conf import settings

        return settings.SHARD_TIMEOUT_SECONDS

    def newest_shard(self) -> str:
        """The shard holding the newest review: hung, it changes page 1."""
        from django.conf import settings

        from reviewsite.reviews.models import Review

        first = newest(1)[0]
        return next(
            alias
            for alias in settings.SHARDS
            if Review.objects.using(alias).filter(pk=first).exists()
        )

    def time(self, hung: str | None = None) -> dict:
        """Page 1 of the latest reviews, timed, then checked: the newest 20 of
        every shard but ``hung``, which a warning names."""
        from django.conf import settings
        from django.urls import reverse

        start = time.perf_counter()
        # secure: DJANGO_DEBUG=0 redirects plain HTTP to HTTPS, as in production.
        response = self.client.get(reverse("latest_reviews"), secure=True)
        seconds = time.perf_counter() - start
        check(response.status_code == 200, f"answered {response.status_code}")
        html = response.content.decode()
        shown = [int(pk) for pk in REVIEW_LINK.findall(html)]
        healthy = [alias for alias in settings.SHARDS if alias != hung]
        expected = newest(PER_PAGE, healthy)
        check(shown == expected, f"shows {shown}, expected {expected} (hung: {hung})")
        warned = re.findall(r"(shard[0-9]+) did not answer", html)
        check(warned == ([hung] if hung else []), f"warns of {warned}, hung: {hung}")
        return {"seconds": seconds, "shown": shown}

    def settle(self, alias: str) -> None:
        """Wait until the fan-out has no query of ``alias`` overdue, so that
        the next page asks it again (the lock is gone: they end at once)."""
        from project import fanout

        deadline = time.monotonic() + 30
        while fanout._overdue[alias] > 0:
            check(time.monotonic() < deadline, f"{alias}'s queries never ended")
            time.sleep(0.01)


# The parent.


def spread(children: dict[int, Child], rounds: int) -> tuple[float, float, dict]:
    """Median seconds of page 1 at 16 and at 4 shards, asked in alternation."""
    pages = {n: child.ask("time")["shown"] for n, child in children.items()}
    check(
        pages[16] == pages[4], f"16 shards show {pages[16]}, 4 shards show {pages[4]}"
    )
    times = {16: [], 4: []}
    for _ in range(rounds):
        for n in (16, 4):
            times[n].append(children[n].ask("time")["seconds"])
    return statistics.median(times[16]), statistics.median(times[4]), {"rounds": rounds}


def hung(child: Child, rounds: int) -> tuple[float, dict]:
    """Median seconds of page 1 with one shard's table locked; healthy in notes."""
    alias = child.ask("newest_shard")
    healthy, stalled = [], []
    with psycopg.connect(child.site.urls[alias]) as locker:
        for _ in range(rounds):
            healthy.append(child.ask("time")["seconds"])
            locker.execute("LOCK TABLE reviews_review IN ACCESS EXCLUSIVE MODE")
            try:
                stalled.append(child.ask("time", alias)["seconds"])
            finally:
                locker.rollback()  # the lock goes: the page's query there ends
            child.ask("settle", alias)
    notes = {
        "hung shard": alias,
        "rounds": rounds,
        "healthy median s": statistics.median(healthy),
        "hung max s": max(stalled),
        "hung min s": min(stalled),
    }
    return statistics.median(stalled), notes


def run(quick: bool, workdir: Path) -> list[Result]:
    reviews = 3_000 if quick else 1_000_000
    spread_rounds, hung_rounds = (5, 1) if quick else (150, 15)
    where = "one server (quick)" if quick else "a server each"
    # Quick mode hangs one of the 16: a site less to migrate, the same check.
    stalling = 16 if quick else 8
    at = now()
    with shard_servers(16, quick) as servers:
        sites = {
            n: Site(f"{n} shards", servers[:n])
            for n in dict.fromkeys((4, 16, stalling))
        }
        children = {}
        try:
            load(list(sites.values()), reviews, at)
            prints = {n: site.fingerprint() for n, site in sites.items()}
            check(
                len(set(prints.values())) == 1 and prints[4][0] == reviews,
                f"the sites do not hold the same {reviews} reviews: {prints}",
            )
            children = {n: Child(__file__, site) for n, site in sites.items()}
            timeout = children[stalling].ask("timeout")
            sixteen, four, spread_notes = spread(children, spread_rounds)
            stalled, hung_notes = hung(children[stalling], hung_rounds)
        finally:
            for child in children.values():
                child.close()
            for site in sites.values():
                site.drop()
    return [
        Result(
            benchmark=BENCHMARK,
            case=f"latest, 16 against 4 shards, {reviews:,} reviews, {where}",
            subject="16 shards",
            baseline="4 shards (the same rows)",
            subject_s=sixteen,
            baseline_s=four,
            goal=SPREAD_GOAL,
            notes=spread_notes,
        ),
        Result(
            benchmark=BENCHMARK,
            case=f"latest, 1 of {stalling} shards hung, {reviews:,} reviews, {where}",
            subject=f"{hung_notes['hung shard']} hung (table locked)",
            baseline="SHARD_TIMEOUT_SECONDS",
            subject_s=stalled,
            baseline_s=timeout,
            goal=HUNG_GOAL,
            notes=hung_notes,
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(LatestPage)
    else:
        main(run)
