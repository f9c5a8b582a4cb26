"""A cross-shard page asks each shard for its share of the page first, with
its query compiled once for every shard (shares.py, samesql.py): the page is
the one whole pages from every shard give, whatever shard holds what."""

import threading
import time
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db import connections
from django.db.models import F
from django.db.models.sql.compiler import SQLCompiler
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from project import samesql, shares
from project.views import LatestReviewsView
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import home

SHARDS = ["shard0", "shard1", "shard2", "shard3"]


class Rows:
    """What a queryset is to newest(): the rows older than a key."""

    def __init__(self, before):
        self.before = before


class NewestOfListsTests(HypothesisTestCase):
    """newest() over rows in lists: the page of one list holding them all."""

    databases = "__all__"  # the fan-out's threads look at their connections

    @hypothesis_settings(max_examples=300, deadline=None)
    @given(
        keys=st.lists(
            st.tuples(st.integers(0, 40), st.sampled_from(SHARDS)),
            unique_by=lambda row: row[0],
            max_size=60,
        ),
        count=st.integers(1, 30),
        before=st.none() | st.integers(0, 41),
    )
    def test_the_page_is_the_newest_of_all_rows(self, keys, count, before):
        held = {alias: sorted(k for k, a in keys if a == alias) for alias in SHARDS}
        asked = []

        def page_of(rows, alias, limit):
            asked.append((alias, limit))
            older = [k for k in held[alias] if rows.before is None or k < rows.before]
            return older[::-1][:limit]

        page = shares.newest(Rows, before, count, page_of, SHARDS, key=lambda k: k)
        every = sorted((k for k, _ in keys if before is None or k < before))
        self.assertEqual(page.rows, every[::-1][:count])
        self.assertEqual(page.failed, {})
        share = min(count, -(-count // 4) + shares.SPARE)
        firsts = [limit for _, limit in asked[:4]]
        self.assertEqual(firsts, [share] * 4)  # its share, from each
        # A second question only of a shard whose share all made the page.
        again = [alias for alias, _ in asked[4:]]
        self.assertEqual(len(again), len(set(again)))
        self.assertEqual({limit for _, limit in asked[4:]} - {count - share}, set())


def spread_evenly(reviews: int) -> None:
    """One product per shard, reviewed in turn, a second apart."""
    products = {}
    while len(products) < len(settings.SHARDS):
        product = make_product(f"P{len(products)}-{len(set(products.values()))}")
        products.setdefault(home(product.pk), product)
    now = timezone.now()
    for n in range(reviews):
        product = products[settings.SHARDS[n % len(settings.SHARDS)]]
        make_review(product, created=now - timedelta(seconds=n))


class SharesOnTheShardsTests(TestCase):
    databases = "__all__"

    def test_each_shard_is_asked_for_its_share_of_a_page(self):
        spread_evenly(80)
        share = -(-21 // len(settings.SHARDS)) + shares.SPARE
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                with self.assertNumQueries(1, using=alias) as asked:
                    response = self.client.get(reverse("latest_reviews"))
                sql = asked.captured_queries[0]["sql"]
                self.assertTrue(sql.endswith(f"LIMIT {share}"), sql)
        self.assertEqual(len(response.context["reviews"]), 20)

    def test_a_shard_holding_the_newest_reviews_is_asked_for_the_rest(self):
        spread_evenly(40)
        burst = make_product("Reviewed a lot")
        for n in range(30):
            make_review(burst, text=f"burst {n}")
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                twice = 2 if alias == home(burst.pk) else 1
                with self.assertNumQueries(twice, using=alias):
                    response = self.client.get(reverse("latest_reviews"))
        shown = [review.text for review in response.context["reviews"]]
        self.assertEqual(shown, [f"burst {n}" for n in range(29, 9, -1)])

    def test_the_page_query_is_compiled_once_for_every_shard(self):
        spread_evenly(80)
        compiled, as_sql = [], SQLCompiler.as_sql

        def counted(compiler, *args, **kwargs):
            if compiler.query.model is Review:
                compiled.append(compiler.using)
            return as_sql(compiler, *args, **kwargs)

        with mock.patch.object(SQLCompiler, "as_sql", counted):
            self.client.get(reverse("latest_reviews"))
        self.assertEqual(len(compiled), 1, compiled)


class CompiledOnceTests(TestCase):
    databases = "__all__"

    def setUp(self):
        spread_evenly(12)

    def test_the_rows_are_those_django_reads_on_each_shard(self):
        rows = Review.objects.order_by("-created", "-id")
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                got = samesql.rows_on(rows, alias, 2)
                expected = list(rows.using(alias)[:2])
                self.assertEqual(len(got), 2)
                self.assertEqual(got, expected)
                self.assertEqual(
                    [vars(r) | {"_state": None} for r in got],
                    [vars(r) | {"_state": None} for r in expected],
                )
                self.assertTrue(all(timezone.is_aware(r.created) for r in got))
                self.assertEqual({r._state.db for r in got}, {alias})
                self.assertFalse(any(r._state.adding for r in got))

    def test_a_changed_queryset_is_compiled_again(self):
        rows = Review.objects.order_by("-created")
        samesql.rows_on(rows, "shard0")
        newer = rows.filter(rating__gte=9)  # no review has it
        self.assertEqual(samesql.rows_on(newer, "shard0"), [])
        self.assertEqual(len(samesql.rows_on(rows, "shard0")), 3)
        self.assertEqual(len(samesql.rows_on(rows, "shard0", 1)), 1)  # a limit too

    def test_a_query_that_can_match_nothing_asks_no_shard(self):
        with self.assertNumQueries(0, using="shard0"):
            self.assertEqual(samesql.rows_on(Review.objects.none(), "shard0"), [])
            nothing = Review.objects.filter(pk__in=[])
            self.assertEqual(samesql.rows_on(nothing, "shard0"), [])

    def test_only_querysets_of_a_models_own_rows(self):
        refused = {
            "values": Review.objects.values("pk"),
            "annotate": Review.objects.annotate(twice=F("rating") * 2),
            "extra": Review.objects.extra(select={"one": "1"}),
            "prefetch_related": Review.objects.prefetch_related("anything"),
        }
        for name, rows in refused.items():
            with self.subTest(name), self.assertRaises(ValueError):
                samesql.rows_on(rows, "shard0")


class CompilingConnectsToNothingTests(TransactionTestCase):
    """A hung shard must not hold the others at the compile lock."""

    databases = "__all__"

    def test_compiling_opens_no_connection(self):
        seen = {}

        def compile_in_a_new_thread():
            rows = Review.objects.order_by("-created", "-id")[:5]
            samesql.Compiled(rows, "shard2")
            seen["connected"] = connections["shard2"].connection is not None

        thread = threading.Thread(target=compile_in_a_new_thread)
        thread.start()
        thread.join()
        self.assertEqual(seen, {"connected": False})


class SecondRoundTimeTests(TransactionTestCase):
    databases = "__all__"

    @override_settings(SHARD_TIMEOUT_SECONDS=0.6)
    def test_a_second_round_gets_what_is_left_of_the_pages_time(self):
        spread_evenly(8)
        burst = make_product("Reviewed a lot")
        for n in range(30):
            make_review(burst, text=f"burst {n}")
        slow, asked, release = home(burst.pk), [], threading.Event()
        self.addCleanup(release.set)
        real = LatestReviewsView.page_of

        def late_twice(view, rows, alias, limit):
            if alias == slow:
                asked.append(alias)
                if len(asked) == 1:
                    time.sleep(0.4)  # answers, late in the page's time
                else:
                    release.wait(10)  # the rest of the page: hangs
            return real(view, rows, alias, limit)

        with mock.patch.object(LatestReviewsView, "page_of", late_twice):
            started = time.monotonic()
            response = self.client.get(reverse("latest_reviews"))
            took = time.monotonic() - started
        release.set()
        self.assertEqual(asked, [slow, slow])
        self.assertLess(took, 0.6 * (1 + shares.SECOND_ROUND_AT_LEAST) + 0.2)
        self.assertEqual(set(response.context["failed"]), {slow})
        shown = {review.product_id for review in response.context["reviews"]}
        self.assertNotIn(burst.pk, shown)  # none of its rows, as it is named
        self.assertEqual(len(shown), len(settings.SHARDS) - 1)

    @override_settings(SHARD_TIMEOUT_SECONDS=0.5)
    def test_a_hung_shard_leaves_the_others_time_for_a_second_round(self):
        """The first round waits the whole timeout for the hung shard; a
        healthy shard asked for the rest of the page still answers."""
        spread_evenly(8)
        burst = make_product("Reviewed a lot")
        for n in range(30):
            make_review(burst, text=f"burst {n}")
        hung = next(alias for alias in settings.SHARDS if alias != home(burst.pk))
        release = threading.Event()
        self.addCleanup(release.set)
        real = LatestReviewsView.page_of

        def one_hangs(view, rows, alias, limit):
            if alias == hung:
                release.wait(10)
            return real(view, rows, alias, limit)

        with mock.patch.object(LatestReviewsView, "page_of", one_hangs):
            started = time.monotonic()
            response = self.client.get(reverse("latest_reviews"))
            took = time.monotonic() - started
        release.set()
        self.assertEqual(set(response.context["failed"]), {hung})
        shown = [review.text for review in response.context["reviews"]]
        self.assertEqual(shown, [f"burst {n}" for n in range(29, 9, -1)])
        self.assertLess(took, 0.5 * (1 + shares.SECOND_ROUND_AT_LEAST) + 0.2)
