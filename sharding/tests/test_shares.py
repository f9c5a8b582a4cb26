"""A cross-shard page asks each shard for its share of the page first, with
its query compiled once for every shard (shares.py, samesql.py): the page is
the one whole pages from every shard give, whatever shard holds what."""

import random
import threading
import time
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F
from django.db.models.functions import Lower
from django.db.models.sql.compiler import SQLCompiler
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from project import samesql, shares
from project.fanout import FanOut
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
        fails_again=st.none() | st.sampled_from(SHARDS),
    )
    def test_the_page_is_the_newest_of_all_rows(self, keys, count, before, fails_again):
        """Of all rows but those of a shard that fails when asked again."""
        held = {alias: sorted(k for k, a in keys if a == alias) for alias in SHARDS}
        asked = []

        def page_of(rows, alias, limit):
            asked.append((alias, limit))
            if alias == fails_again and [a for a, _ in asked].count(alias) > 1:
                raise DatabaseError("gone for the rest of the page")
            older = [k for k in held[alias] if rows.before is None or k < rows.before]
            return older[::-1][:limit]

        page = shares.newest(Rows, before, count, page_of, SHARDS, key=lambda k: k)
        again = [alias for alias, _ in asked[4:]]
        left_out = {fails_again} & set(again)
        self.assertEqual(set(page.failed), left_out)
        every = sorted(
            k
            for k, alias in keys
            if (before is None or k < before) and alias not in left_out
        )
        self.assertEqual(page.rows, every[::-1][:count])
        share = min(count, -(-count // 4) + shares.SPARE)
        firsts = [limit for _, limit in asked[:4]]
        self.assertEqual(firsts, [share] * 4)  # its share, from each
        # The rest of the page, once, only of a shard that may hold more.
        self.assertEqual(len(again), len(set(again)))
        self.assertEqual({limit for _, limit in asked[4:]} - {count - share}, set())

    def test_a_shard_failing_when_asked_again_costs_no_other_shard_its_rows(self):
        """BREAK-IT: its first rows held the others' places on the page."""
        held = {
            "shard0": list(range(1000, 1030)),  # a burst: the newest 30
            "shard1": list(range(900, 909)),  # exactly its share: 9
            "shard2": list(range(800, 820)),
            "shard3": list(range(700, 720)),  # the oldest
        }
        calls = []

        def page_of(rows, alias, limit):
            calls.append(alias)
            if alias == "shard0" and calls.count(alias) == 2:
                raise DatabaseError("gone for the rest of the page")
            older = [k for k in held[alias] if rows.before is None or k < rows.before]
            return sorted(older, reverse=True)[:limit]

        page = shares.newest(Rows, None, 21, page_of, list(held), key=lambda k: k)
        self.assertEqual(set(page.failed), {"shard0"})
        others = sorted((k for a in SHARDS[1:] for k in held[a]), reverse=True)
        self.assertEqual(page.rows, others[:21])

    def test_with_rows_spread_evenly_one_page_in_five_to_ten_asks_twice(self):
        """What shares.py says a share costs: at 4 and at 16 shards."""
        randoms = random.Random(16)
        for shards, low, high in [(4, 0.1, 0.3), (16, 0.05, 0.2)]:
            twice = 0
            for _ in range(400):
                keys = randoms.sample(range(100_000), 40 * shards)
                held = [sorted(keys[n::shards]) for n in range(shards)]
                asked = []

                def page_of(rows, shard, limit, held=held, asked=asked):
                    asked.append(shard)
                    older = [
                        k for k in held[shard] if rows.before is None or k < rows.before
                    ]
                    return older[::-1][:limit]

                with mock.patch.object(shares, "on_every_shard", one_by_one):
                    page = shares.newest(Rows, None, 21, page_of, range(shards), abs)
                self.assertEqual(page.rows, sorted(keys, reverse=True)[:21])
                twice += len(asked) > shards
            with self.subTest(shards=shards):
                self.assertTrue(low < twice / 400 < high, twice / 400)


def one_by_one(query, shards, timeout=None):
    """on_every_shard, in this thread: as many shards as wanted, no database."""
    fan = FanOut()
    for shard in shards:
        fan.results[shard] = query(shard)
    return fan


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


class SecondRoundFailureOnThePageTests(TransactionTestCase):
    databases = "__all__"

    def test_following_the_pages_shows_every_review_of_the_healthy_shards(self):
        """BREAK-IT: a shard that failed in the second round took its first
        rows' places away from a healthy shard, and the cursor went past them."""
        products = {}
        while len(products) < len(settings.SHARDS):
            product = make_product(f"P{len(products)}-{len(set(products.values()))}")
            products.setdefault(home(product.pk), product)
        burst, exact, middle, old = products.values()
        now, made = timezone.now(), []
        for product, reviews, start in [(burst, 30, 0), (exact, 9, 100),
                                        (middle, 20, 200), (old, 20, 300)]:  # fmt: skip
            for n in range(reviews):
                made.append(
                    make_review(product, created=now - timedelta(seconds=start + n))
                )
        failing, real, asked = home(burst.pk), LatestReviewsView.page_of, []

        def fails_when_asked_again(view, rows, alias, limit):
            if alias == failing:
                asked.append(limit)
                if len(asked) % 2 == 0:  # the second question of each page
                    raise DatabaseError("gone for the rest of the page")
            return real(view, rows, alias, limit)

        seen, url = [], reverse("latest_reviews")
        with mock.patch.object(LatestReviewsView, "page_of", fails_when_asked_again):
            response = self.client.get(url)
            self.assertEqual(set(response.context["failed"]), {failing})
            while url:
                response = self.client.get(url)
                seen += [review.pk for review in response.context["reviews"]]
                cursor = response.context["next_cursor"]
                url = f"{reverse('latest_reviews')}?before={cursor}" if cursor else None
        healthy = [r.pk for r in made if r.product_id != burst.pk]
        self.assertEqual(sorted(set(healthy) - set(seen)), [])

    @override_settings(SHARD_TIMEOUT_SECONDS=1.0)
    def test_a_second_round_starved_by_a_slow_first_names_the_time_it_had(self):
        """BREAK-IT: after a first round that took 90% of the page's time, a
        shard that needs more than the rest of it for its second is left
        out, named with the time it had, and the others' page is whole."""
        spread_evenly(8)
        burst = make_product("Reviewed a lot")
        for n in range(30):
            make_review(burst, text=f"burst {n}")
        fast = home(burst.pk)
        slow = next(alias for alias in settings.SHARDS if alias != fast)
        asked, real = [], LatestReviewsView.page_of

        def timed(view, rows, alias, limit):
            if alias == slow:
                time.sleep(0.9)  # answers, in time
            if alias == fast:
                asked.append(limit)
                if len(asked) == 2:
                    time.sleep(0.25)  # the rest of the page: longer than left
            return real(view, rows, alias, limit)

        with mock.patch.object(LatestReviewsView, "page_of", timed):
            started = time.monotonic()
            response = self.client.get(reverse("latest_reviews"))
            took = time.monotonic() - started
        self.assertLess(took, 1.0 * (1 + shares.SECOND_ROUND_AT_LEAST) + 0.2)
        self.assertEqual(list(response.context["failed"]), [fast])
        self.assertRegex(
            response.context["failed"][fast], r"^no answer within 0\.[0-9]+ s$"
        )
        shown = {review.product_id for review in response.context["reviews"]}
        self.assertEqual(len(shown), len(settings.SHARDS) - 1)
        self.assertNotIn(burst.pk, shown)


class CompiledAgainTests(TestCase):
    """BREAK-IT: samesql's compilation and the queryset it is kept on."""

    databases = "__all__"

    def setUp(self):
        self.product = make_product("X")
        self.alias = home(self.product.pk)
        make_review(self.product, text="five", rating=5)
        make_review(self.product, text="one", rating=1)

    def test_a_query_set_on_the_queryset_is_compiled_again(self):
        rows = Review.objects.order_by("text")
        samesql.rows_on(rows, self.alias)
        rows.query = Review.objects.filter(rating=5).query  # as after pickling
        got = [review.text for review in samesql.rows_on(rows, self.alias)]
        self.assertEqual(got, ["five"])

    def test_a_queryset_already_read(self):
        rows = Review.objects.using(self.alias).all()
        list(rows)
        self.assertEqual(len(samesql.rows_on(rows, self.alias)), 2)
        self.assertEqual(len(samesql.rows_on(rows, self.alias, 1)), 1)

    def test_distinct_ordered_by_an_expression_is_read_as_django_reads_it(self):
        rows = (
            Review.objects.only("product_id", "author_id", "rating", "text")
            .distinct()
            .order_by(Lower("text"))
        )
        got = samesql.rows_on(rows, self.alias)
        want = list(rows.using(self.alias))
        self.assertEqual([vars(r) | {"_state": 0} for r in got],
                         [vars(r) | {"_state": 0} for r in want])  # fmt: skip
