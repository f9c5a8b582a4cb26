"""6. Shadowing: a list page with 1% of its rows changed locally, against the
same page over one plain database holding the same rows.

The page is "Latest reviews" (``/reviews/``, ``LatestReviewsView``): the
site's one list over the big table, newest first, 20 a page, each review with
its product and author. (The product list is the other list page, but
products are the small table: 1% of them is a handful of rows.)

Subject: the shadowing project's own page, read through the overlay. The
local database holds 1% of the snapshot's reviews changed: 60% of them edited
(copies of snapshot rows, a tenth of which also moved in time), 20% deleted
(tombstones, as ``post_delete`` leaves them) and 20% added; a few of each are
among the newest, so that the first page shows local rows. setup_demo's own
three local changes (a product edited, one added with a review, a review
deleted) stay.

Baseline: the shared site's page (``reviewsite.web.views``, the one every
other pattern serves, unchanged) over one plain SQLite database that holds the
merged rows: a copy of the snapshot with the same local changes applied to
it, configured as the local database is. That is the alternative the
shadowing README names ("restore an anonymized dump into your local database
and change it freely"), and the oracle of its tests: the same rows, the same
page, one database. The snapshot read alone would not do: it holds other
rows, and would still pay for the overlay.

Both pages are the view called with a request and rendered, as a user waits
for it; the middleware both would share is left out, which makes the ratio
stricter, not looser. Both sides are measured in alternation (common.
interleaved), on page 1 and on deeper pages. Before any timing, each page's
HTML must be the plain page's byte for byte once the overlay's
``local``/``snapshot`` marks are taken out, with the same count of reviews,
and the local rows must be marked ``local``: an AssertionError says what
differs. Quick mode (2,000 reviews) checks every page and judges no timing.

The overlay remembers how many snapshot rows the shadowed keys hide, for the
same snapshot file, query and keys (the snapshot never changes in place):
the timed repeats are a developer browsing between two changes. The first
page after a change counts them again, a lookup per key (about 10 ms for
8,000 keys over a million reviews), which these figures leave out.
"""

import json
import random
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    Result,
    check,
    each_size,
    interleaved,
    manage,
    setup_django,
    sized_main,
    subprocess_env,
)

PATTERN = "shadowing"
PLAIN = "plain"  # the baseline's alias, added at run time
SEED = 2010
SHARE = 0.01  # of the snapshot's reviews, changed locally
PER_PAGE = 20


def run(quick: bool, workdir: Path) -> list[Result]:
    return each_size(
        __file__, [2_000] if quick else [100_000, 1_000_000], quick, workdir
    )


def measure(quick: bool, workdir: Path, reviews: int) -> list[Result]:
    data = workdir / f"shadowing-{reviews}"
    marker = data / "benchmark-changes.done"
    if not marker.exists():
        populate(data, reviews)
    setup_django(PATTERN, data)
    plain_database(data / "plain.sqlite3")
    if not marker.exists():
        changes = change_one_percent(reviews)
        build_plain(data / "plain.sqlite3")
        marker.write_text(json.dumps(changes))
    changes = json.loads(marker.read_text())
    # As a new request would: the overlay trusts only a snapshot file it opened
    # itself (take_snapshot may have swapped the file since), so a connection
    # left open by building the data would keep it from remembering anything.
    from django.db import connections

    connections.close_all()

    pages = page_numbers(quick, reviews)
    if quick:
        check_pages(range(1, last_page() + 1))
    else:
        check_pages(pages)

    results = []
    for number in pages:
        overlay, plain = page_callables(number)
        queries = {
            side: count_queries(fn)
            for side, fn in [("subject", overlay), ("baseline", plain)]
        }
        subject_s, baseline_s = interleaved(overlay, plain, rounds=5 if quick else 30)
        results.append(
            Result(
                benchmark="6. Shadowing",
                case=f"review list page {number}, {reviews:,} reviews, 1% overridden",
                subject="overlay (snapshot + local)",
                baseline="one plain database",
                subject_s=subject_s,
                baseline_s=baseline_s,
                goal=1.5,
                kind="ratio",
                notes={
                    "page": number,
                    "reviews": reviews,
                    "local changes": changes,
                    **queries,
                },
            )
        )
    return results


def page_numbers(quick: bool, reviews: int) -> list[int]:
    pages = reviews // PER_PAGE
    return [1, 10] if quick else [1, 50, min(500, pages)]


# Data ---------------------------------------------------------------------------


def populate(data: Path, reviews: int) -> None:
    """setup_demo fills production and takes the snapshot; it reuses existing data."""
    data.mkdir(parents=True, exist_ok=True)
    args = [
        "setup_demo",
        f"--reviews={reviews}",
        f"--products={max(20, reviews // 100)}",
        f"--users={max(40, reviews // 50)}",
        f"--seed={SEED}",
    ]
    started = time.perf_counter()
    subprocess.run(
        manage(PATTERN, data, *args),
        env=subprocess_env(data),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"setup_demo --reviews {reviews}: {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


def change_one_percent(reviews: int) -> dict[str, int]:
    """1% of the snapshot's reviews changed locally with ORM writes: edited
    (copy-on-write, in bulk), deleted (tombstones), added. Earlier local
    reviews (a run cut short) are dropped first, by shadow_reset."""
    from django.conf import settings
    from django.core.management import call_command

    from project.deep_pages import FastOverlay
    from project.overlay import bury
    from reviewsite.products.models import Product
    from reviewsite.reviews.models import Review

    call_command("shadow_reset", "reviews.review", stdout=sys.stderr)
    rng = random.Random(SEED)
    snapshot = Review.objects.using("snapshot")
    keys = sorted(snapshot.values_list("pk", flat=True))
    newest = list(FastOverlay(Review).order_by("-created", "-id").filter()[:10])
    changed = max(10, int(len(keys) * SHARE))
    n_edit, n_delete = changed * 6 // 10, changed * 2 // 10
    n_add = changed - n_edit - n_delete
    # A few of each on the first page, the rest anywhere.
    first_page = [r.pk for r in newest]
    pool = [k for k in rng.sample(keys, changed + 3) if k not in first_page[:3]]
    edit = {*first_page[:2], *pool[: n_edit - 2]}
    delete = {first_page[2], *pool[n_edit - 2 : n_edit + n_delete - 3]}
    check(
        not edit & delete and (len(edit), len(delete)) == (n_edit, n_delete),
        "the edited and deleted reviews must be distinct and as many as planned",
    )

    oldest, latest = snapshot.order_by("created")[0].created, newest[0].created
    span = (latest - oldest).total_seconds()
    edited = []
    for batch in chunks(sorted(edit), 900):
        for row in snapshot.filter(pk__in=batch):
            row.text += " (edited locally)"
            row.rating = rng.choice([None, 1, 2, 3, 4, 5])
            if rng.random() < 0.1:  # moved: its place in the list changes
                row.created = oldest + timedelta(seconds=rng.uniform(0, span))
            edited.append(row)
    Review.objects.using("default").bulk_create(edited, batch_size=900)
    bury(Review, sorted(delete))

    products = list(Product.objects.using("snapshot").values_list("pk", flat=True))
    users = list(get_user_keys())
    added = [
        Review(
            product_id=rng.choice(products),
            author_id=rng.choice([None, *users[:50]]) if users else None,
            rating=rng.choice([None, 1, 2, 3, 4, 5]),
            text=f"Local review {n}.",
            created=latest + timedelta(seconds=n + 1)
            if n < 3
            else oldest + timedelta(seconds=rng.uniform(0, span)),
        )
        for n in range(n_add)
    ]
    Review.objects.using("default").bulk_create(added, batch_size=900)
    low = Review.objects.using("default").filter(pk__gte=settings.LOCAL_ID_START)
    check(low.count() == n_add, "added reviews must be numbered from LOCAL_ID_START")
    return {"edited": n_edit, "deleted": n_delete, "added": n_add}


def get_user_keys():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.using("snapshot").values_list("pk", flat=True)


def chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def plain_database(path: Path) -> None:
    """The baseline's alias: configured as the local database is, another file."""
    from django.db import connections, router

    connections.settings[PLAIN] = {**connections.settings["default"], "NAME": str(path)}
    router.routers.insert(0, OnePlainDatabase())


class OnePlainDatabase:
    """While the baseline runs, every query goes to the plain database."""

    active = False

    def db_for_read(self, model, **hints):
        return PLAIN if OnePlainDatabase.active else None

    db_for_write = db_for_read


@contextmanager
def on_plain_database():
    OnePlainDatabase.active = True
    try:
        yield
    finally:
        OnePlainDatabase.active = False


def build_plain(path: Path) -> None:
    """A copy of the snapshot with the local changes applied: for each shadowed
    model, the rows a local copy or tombstone hides are deleted, and every
    local row is inserted with its key. Nothing of the overlay is used."""
    from django.apps import apps
    from django.conf import settings
    from django.db import connections

    from project.models import Tombstone

    connections[PLAIN].close()
    path.unlink(missing_ok=True)
    snapshot_file = Path(
        connections["snapshot"]
        .settings_dict["NAME"]
        .split("?")[0]
        .removeprefix("file:")
    )
    with sqlite3.connect(snapshot_file) as source, sqlite3.connect(path) as target:
        source.backup(target)
    source.close()
    target.close()
    for label, how in settings.SHADOW_MODELS.items():
        check(how == "augmented", label)
        model = apps.get_model(label)
        manager = model._default_manager
        local = list(manager.using("default").order_by("pk"))
        dead = Tombstone.objects.using("default").filter(model=label)
        hidden = [row.pk for row in local] + list(
            dead.values_list("object_id", flat=True)
        )
        for batch in chunks(hidden, 900):
            model._base_manager.using(PLAIN).filter(pk__in=batch)._raw_delete(PLAIN)
        for row in local:
            row._state.db = None
        model._base_manager.using(PLAIN).bulk_create(local, batch_size=500)
    with connections[PLAIN].cursor() as cursor:
        cursor.execute("ANALYZE")


# The pages ----------------------------------------------------------------------


def render(view_class, number: int) -> tuple[str, dict]:
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/reviews/", {"page": number}, secure=True)
    request.user = AnonymousUser()
    response = view_class.as_view()(request)
    response.render()
    return response.content.decode(), response.context_data


def page_callables(number: int):
    from project.views import LatestReviewsView as Overlaid
    from reviewsite.web.views import LatestReviewsView as Plain

    def overlay():
        return render(Overlaid, number)

    def plain():
        with on_plain_database():
            return render(Plain, number)

    return overlay, plain


MARK = re.compile(r'<span class="source source-(local|snapshot)"[^>]*>\w+</span>')
REVIEW_LINK = re.compile(r'<a href="/reviews/(\d+)/"><time')


def check_pages(numbers) -> None:
    """The overlay's page must be the plain database's page, marks aside."""
    from django.conf import settings

    from reviewsite.reviews.models import Review

    expected = Review.objects.using(PLAIN).count()
    local_seen = 0
    for number in numbers:
        overlay, plain = page_callables(number)
        (html, context), (plain_html, plain_context) = overlay(), plain()
        count = context["paginator"].count
        if count != expected or plain_context["paginator"].count != expected:
            raise AssertionError(
                f"page {number}: the overlay counts {count} reviews, the plain "
                f"database holds {expected} (its page says "
                f"{plain_context['paginator'].count})"
            )
        ids = [int(i) for i in REVIEW_LINK.findall(html)]
        plain_ids = [int(i) for i in REVIEW_LINK.findall(plain_html)]
        if ids != plain_ids or (len(ids) != PER_PAGE and number * PER_PAGE <= count):
            raise AssertionError(
                f"page {number}: overlay shows reviews {ids}, plain {plain_ids}"
            )
        marks = MARK.findall(html)
        rows = context["object_list"]
        local = {r.pk for r in rows if r.shadow_source == "local"}
        really_local = set(
            Review.objects.using("default")
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if local != really_local or marks.count("local") < len(local):
            raise AssertionError(
                f"page {number}: reviews {sorted(really_local)} are local, "
                f"the page marks {sorted(local)} local"
            )
        if MARK.sub("", html) != plain_html:
            raise AssertionError(
                f"page {number}: the overlay's HTML differs from the plain page's"
            )
        local_seen += len(local)
        if number == 1 and not any(pk >= settings.LOCAL_ID_START for pk in local):
            raise AssertionError("page 1 should show a review added locally")
    if not local_seen:
        raise AssertionError(f"no local review on pages {list(numbers)}")


def count_queries(fn) -> dict[str, int]:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    captured = {
        alias: CaptureQueriesContext(connections[alias])
        for alias in ["default", "snapshot", PLAIN]
    }
    for each in captured.values():
        each.__enter__()
    fn()
    for each in captured.values():
        each.__exit__(None, None, None)
    return {alias: len(c) for alias, c in captured.items() if len(c)}


def last_page() -> int:
    from reviewsite.reviews.models import Review

    return -(-Review.objects.using(PLAIN).count() // PER_PAGE)


if __name__ == "__main__":
    sized_main(run, measure)
