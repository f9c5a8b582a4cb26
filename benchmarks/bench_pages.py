"""2. Pages: the sharding site's pages cost the same at a million reviews as
at a thousand.

Three pages, each rendered by Django's test client (the whole request: URL,
middleware, views, templates): a product page (the product with the most
reviews in the big dataset), the cross-shard latest reviews page, and page
50 of it, reached by following the "Older" cursor link 49 times.

Django's settings are configured once per process, so each dataset is served
by a child process of this script (``bench_pages.py serve <sqlite dir>``)
that reads commands on its stdin. The parent asks the two children in turn,
one timed request each, so that a noisy moment of the machine falls on both
datasets alike (common.interleaved's idea, across two processes), and holds
the median at the big dataset against the median at the small one.

Every page is first checked against an oracle read from every shard: the
product page lists the product's newest reviews, the first page the newest
reviews of the site, page 50 the 981st to 1000th, with no duplicates or gaps.
"""

import re
import statistics
import sys
from pathlib import Path

from common import PageServer, Result, main, serve, setup_django, subprocess_env
from sharding_data import dataset

BENCHMARK = "2. Pages"
GOAL = 1.5
DEEP_PAGE = 50
REVIEW_LINK = re.compile(r'href="/reviews/([0-9]+)/"')
OLDER_LINK = re.compile(r'href="\?before=([0-9_]+)" rel="next"')


# The child: one dataset, served by the test client.


class Site:
    """One dataset's pages, checked against the shards and timed."""

    def __init__(self, sqlite_dir: Path) -> None:
        setup_django("sharding", sqlite_dir)
        from django.test import Client

        self.client = Client()
        self.urls: dict[str, str] = {}

    def get(self, url: str) -> str:
        # secure: DJANGO_DEBUG=0 redirects plain HTTP to HTTPS, as in production.
        response = self.client.get(url, secure=True)
        if response.status_code != 200:
            raise AssertionError(f"{url} answered {response.status_code}")
        return response.content.decode()

    def busiest_product(self) -> int:
        from django.conf import settings
        from django.db.models import Count

        from reviewsite.reviews.models import Review

        counts = {}
        for alias in settings.SHARDS:
            rows = (
                Review.objects.using(alias)
                .order_by()
                .values_list("product_id")
                .annotate(n=Count("id"))
            )
            for product_id, n in rows:
                counts[product_id] = counts.get(product_id, 0) + n
        return max(counts, key=counts.get)

    def prepare(self, product_id: int) -> dict:
        """The three URLs, each page checked; page 50 found through the cursors."""
        from django.urls import reverse

        oracle = newest_first()
        product = f"{reverse('product', args=[product_id])}"
        html = self.get(product)
        of_product = [pk for pk, pid in oracle if pid == product_id]
        expect(html, of_product[:10], f"product {product_id}'s page")
        if f"{len(of_product):,} review".replace(",", "") not in html.replace(",", ""):
            raise AssertionError(f"product {product_id}'s page lacks its review count")

        latest = reverse("latest_reviews")
        url, seen = latest, []
        for page in range(1, DEEP_PAGE + 1):
            html = self.get(url)
            shown = expect(html, None, f"latest reviews page {page}")
            seen += shown
            if page < DEEP_PAGE:
                older = OLDER_LINK.search(html)
                if older is None:
                    raise AssertionError(f"page {page} has no Older link")
                url = f"{latest}?before={older.group(1)}"
        deep = url
        wanted = [pk for pk, _ in oracle[: 20 * DEEP_PAGE]]
        if seen != wanted:
            duplicates = len(seen) - len(set(seen))
            missing = len(set(wanted) - set(seen))
            pairs = enumerate(zip(seen, wanted, strict=False))
            first = next(
                (i for i, (a, b) in pairs if a != b), min(len(seen), len(wanted))
            )
            raise AssertionError(
                f"pages 1 to {DEEP_PAGE} through the cursors are not the newest "
                f"{len(wanted)} reviews of all shards in order: {duplicates} "
                f"duplicates, {missing} missing, first difference at position "
                f"{first}"
            )
        self.urls = {"product": product, "latest": latest, f"page {DEEP_PAGE}": deep}
        return self.urls

    def time(self, page: str) -> float:
        import time

        start = time.perf_counter()
        self.get(self.urls[page])
        return time.perf_counter() - start


def newest_first() -> list[tuple[int, int]]:
    """(id, product id) of every review of every shard, newest (created, id) first."""
    from django.conf import settings

    from reviewsite.reviews.models import Review

    rows = []
    for alias in settings.SHARDS:
        rows += Review.objects.using(alias).values_list("created", "id", "product_id")
    rows.sort(reverse=True)
    return [(pk, product_id) for _, pk, product_id in rows]


def expect(html: str, ids: list[int] | None, page: str) -> list[int]:
    shown = [int(pk) for pk in REVIEW_LINK.findall(html)]
    if ids is not None and shown != ids:
        raise AssertionError(f"{page} shows reviews {shown}, expected {ids}")
    if ids is None and len(shown) != 20:
        raise AssertionError(f"{page} shows {len(shown)} reviews, expected 20")
    return shown


# The parent: two children, asked in turn.


def page_server(sqlite_dir: Path) -> PageServer:
    argv = [sys.executable, __file__, "serve", str(sqlite_dir)]
    return PageServer(argv, subprocess_env(sqlite_dir))


def run(quick: bool, workdir: Path) -> list[Result]:
    small, big = (1_000, 3_000) if quick else (1_000, 1_000_000)
    rounds = 5 if quick else 150
    children = {n: page_server(dataset(workdir, n)) for n in (small, big)}
    try:
        product = children[big].ask("busiest_product")
        urls = {n: child.ask("prepare", product) for n, child in children.items()}
        times = {(n, page): [] for n in children for page in urls[big]}
        for page in urls[big]:
            for child in children.values():  # warm: templates, caches, connections
                child.ask("time", page)
            for _ in range(rounds):
                for n, child in children.items():
                    times[n, page].append(child.ask("time", page))
    finally:
        for child in children.values():
            child.close(30)
    return [
        Result(
            benchmark=BENCHMARK,
            case=f"{page}, {big:,} against {small:,} reviews, 4 shards",
            subject=f"{page} at {big:,} reviews",
            baseline=f"{page} at {small:,} reviews",
            subject_s=statistics.median(times[big, page]),
            baseline_s=statistics.median(times[small, page]),
            goal=GOAL,
            notes={"url": urls[big][page], "rounds": rounds, "product": product},
        )
        for page in urls[big]
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(lambda: Site(Path(sys.argv[2])))
    else:
        main(run)
