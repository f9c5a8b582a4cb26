"""Pages across shards: one shard per product page, cursor pages that cost the
same at any depth, the order of a single-database oracle, degraded pages."""

import threading
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db import OperationalError, connections
from django.test import TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from project import shardmap
from project.settled import Settled
from project.views import LatestReviewsView, cursor_after
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count

from .helpers import home, newest, stored_reviews


def walk_latest(client) -> list[int]:
    """Every review id the latest-reviews pages show, following the cursor."""
    ids, url = [], reverse("latest_reviews")
    while url:
        response = client.get(url)
        assert response.status_code == 200
        ids += [r.pk for r in response.context["reviews"]]
        cursor = response.context["next_cursor"]
        url = f"{reverse('latest_reviews')}?before={cursor}" if cursor else None
    return ids


class CrossShardOrderTests(TestCase):
    databases = "__all__"

    @hypothesis_settings(max_examples=25, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6)), max_size=70))
    def test_cursor_pages_equal_the_order_of_one_database(self, reviews):
        """The oracle: all reviews in one list, newest (created, then id) first.
        Reviews are backdated, with ties, so that id order is not enough."""
        products = [make_product(f"P{n}") for n in range(8)]
        now = timezone.now()
        for n, days_ago in reviews:
            created = now - timedelta(days=days_ago)
            make_review(products[n], text=f"on {n}", created=created)
        oracle = [r[0] for r in sorted(stored_reviews(), key=newest, reverse=True)]
        self.assertEqual(walk_latest(self.client), oracle)


class PageCostTests(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.products = [make_product(f"P{n}") for n in range(10)]
        for n in range(120):
            make_review(cls.products[n % 10], text=f"review {n}", rating=n % 5 + 1)

    def test_a_product_page_reads_one_shard(self):
        product = self.products[0]
        url = reverse("product", args=[product.pk])
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                expected = 2 if alias == home(product.pk) else 0  # stats, page
                with self.assertNumQueries(expected, using=alias):
                    self.assertEqual(self.client.get(url).status_code, 200)

    def test_a_deep_page_costs_what_the_first_costs(self):
        """At most two questions of each shard (its share, then the rest of a
        page: shares.py), each for at most a page and a row, at any depth."""
        ids = walk_latest(self.client)
        last = Review.objects.filter(pk=ids[-26]).get()
        deep = f"{reverse('latest_reviews')}?before={cursor_after(last)}"
        for url in [reverse("latest_reviews"), deep]:
            for alias in settings.SHARDS:
                with (
                    self.subTest(url=url, alias=alias),
                    CaptureQueriesContext(connections[alias]) as asked,
                ):
                    self.client.get(url)
                self.assertIn(len(asked), (1, 2))
                asked_for = [int(q["sql"].rsplit("LIMIT ", 1)[1]) for q in asked]
                self.assertLessEqual(sum(asked_for), 21)

    def test_the_last_page_has_no_older_link_when_the_total_is_a_whole_page(self):
        """120 reviews: six full pages, and no seventh, empty, behind a link."""
        url, pages = reverse("latest_reviews"), 0
        while url:
            response = self.client.get(url)
            pages += 1
            self.assertEqual(len(response.context["reviews"]), 20)
            cursor = response.context["next_cursor"]
            url = f"{reverse('latest_reviews')}?before={cursor}" if cursor else None
        self.assertEqual(pages, 6)

    def test_a_bad_cursor_is_a_404(self):
        bad = ["abc", "-5", "99999999999999999999999", "1.5", "²", "١٢", "5", "1_",
               "999999999999999999_1", "1_99999999999999999999"]  # fmt: skip
        for cursor in bad:
            with self.subTest(cursor=cursor):
                response = self.client.get(
                    reverse("latest_reviews"), {"before": cursor}
                )
                self.assertEqual(response.status_code, 404)

    def test_a_failed_shard_gives_a_page_with_a_warning_not_a_500(self):
        def broken(execute, sql, params, many, context):
            raise OperationalError("disk I/O error")

        with connections["shard2"].execute_wrapper(broken):
            response = self.client.get(reverse("latest_reviews"))
        self.assertContains(response, "shard2 did not answer")
        shown = {r.pk for r in response.context["reviews"]}
        self.assertTrue(shown)
        self.assertFalse(
            any(home(r.product_id) == "shard2" for r in response.context["reviews"])
        )

    def test_product_pages_lose_a_failed_shards_figures_not_the_page(self):
        def broken(execute, sql, params, many, context):
            raise OperationalError("disk I/O error")

        on_shard2 = next(p for p in self.products if home(p.pk) == "shard2")
        elsewhere = next(p for p in self.products if home(p.pk) != "shard2")
        with connections["shard2"].execute_wrapper(broken):
            listing = self.client.get(reverse("products"))
            lost = self.client.get(reverse("product", args=[on_shard2.pk]))
            fine = self.client.get(reverse("product", args=[elsewhere.pk]))
        self.assertContains(listing, "shard2 did not answer")
        counted = {p.pk: p.stats.count for p in listing.context["object_list"]}
        self.assertEqual(counted[on_shard2.pk], 0)
        self.assertGreater(counted[elsewhere.pk], 0)
        self.assertContains(lost, "shard2 did not answer")
        self.assertContains(lost, on_shard2.name)
        self.assertNotContains(fine, "did not answer")

    def test_aggregates_combine_sums_and_counts_not_averages(self):
        ratings = [r[3] for r in stored_reviews() if r[3] is not None]
        per_shard = {}
        for row in stored_reviews():
            per_shard.setdefault(home(row[1]), []).append(row[3])
        average_of_averages = sum(sum(v) / len(v) for v in per_shard.values()) / len(
            per_shard
        )
        # The data must tell the two apart, or the test proves nothing.
        self.assertNotAlmostEqual(average_of_averages, sum(ratings) / len(ratings))
        response = self.client.get(reverse("shards"))
        self.assertEqual(response.context["reviews"], 120)
        self.assertAlmostEqual(response.context["average"], sum(ratings) / len(ratings))


class ParallelFanOutTests(TransactionTestCase):
    databases = "__all__"

    def setUp(self):
        for n in range(8):
            make_review(make_product(f"P{n}"), text=f"review {n}")

    @override_settings(SHARD_TIMEOUT_SECONDS=0.3)
    def test_a_shard_that_does_not_answer_in_time_is_left_out(self):
        release = threading.Event()
        page_of = LatestReviewsView.page_of

        def slow_shard3(view, rows, alias, limit):
            if alias == "shard3":
                release.wait(10)  # held until the page is served
            return page_of(view, rows, alias, limit)

        with mock.patch.object(LatestReviewsView, "page_of", slow_shard3):
            response = self.client.get(reverse("latest_reviews"))
        release.set()
        self.assertContains(response, "shard3 did not answer (no answer within 0.3 s)")
        self.assertEqual(response.status_code, 200)

    def test_shards_are_asked_from_other_threads_outside_a_transaction(self):
        seen = set()
        page_of = LatestReviewsView.page_of

        def spy(view, rows, alias, limit):
            seen.add(threading.current_thread().name)
            return page_of(view, rows, alias, limit)

        with mock.patch.object(LatestReviewsView, "page_of", spy):
            self.client.get(reverse("latest_reviews"))
        self.assertTrue(all(name.startswith("shard") for name in seen), seen)
        self.assertEqual(Product.objects.count(), 8)


class ThreadedFanOutTests(TransactionTestCase):
    """Outside a transaction the shards are asked from the pool's threads."""

    databases = "__all__"

    def setUp(self):
        products = [make_product(f"P{n}") for n in range(8)]
        for n in range(60):
            make_review(products[n % 8], text=f"threaded {n}")

    def test_each_shard_returns_at_most_one_page(self):
        view = LatestReviewsView()
        view.ownership = shardmap.ownership()
        view.settled = Settled()
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                # A page, and one row to tell whether an older page exists.
                page = view.page_of(view.older_than(None), alias, view.per_page + 1)
                self.assertLessEqual(len(page), view.per_page + 1)
        self.assertGreater(len(stored_reviews()), 4 * view.per_page // 2)

    def test_a_shard_failing_in_its_thread_degrades_the_page(self):
        # Which shards hold the reviews depends on the product ids, which a
        # database's sequence may not restart between tests (PostgreSQL).
        held = {alias: raw_count(alias, Review) for alias in settings.SHARDS}
        failing = min(held, key=held.get)
        real = LatestReviewsView.page_of

        def one_shard_fails(self, rows, alias, limit):
            if alias == failing:
                raise OperationalError("disk I/O error")
            return real(self, rows, alias, limit)

        with mock.patch.object(LatestReviewsView, "page_of", one_shard_fails):
            response = self.client.get(reverse("latest_reviews"))
        self.assertContains(response, f"{failing} did not answer")
        shown = min(20, sum(held.values()) - held[failing])
        self.assertEqual(len(response.context["reviews"]), shown)
        self.assertGreater(shown, 0)

    def test_a_hung_shard_does_not_take_the_pool_from_the_others(self):
        import threading as t

        release = t.Event()
        self.addCleanup(release.set)
        real = LatestReviewsView.page_of

        def shard3_hangs(self, rows, alias, limit):
            if alias == "shard3":
                release.wait(30)
            return real(self, rows, alias, limit)

        with (
            mock.patch.object(LatestReviewsView, "page_of", shard3_hangs),
            override_settings(SHARD_TIMEOUT_SECONDS=0.2),
        ):
            for _ in range(10):  # more requests than the pool has threads
                response = self.client.get(reverse("latest_reviews"))
                self.assertContains(response, "shard3 did not answer")
                self.assertEqual(set(response.context["failed"]), {"shard3"})
        release.set()

    def test_the_activity_panel_shows_the_queries_of_every_shard(self):
        response = self.client.get(reverse("latest_reviews"))
        panel = response.content.decode().split('<ol class="queries">')[1]
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                # Its share of the page, and the rest if it holds more of it.
                self.assertIn(panel.count(f">{alias}</span>"), (1, 2))

    def test_busy_but_healthy_shards_answer_every_concurrent_page(self):
        """Many pages at once, each shard's query slow but within the timeout:
        no page is refused a shard (only overdue queries count against it)."""
        import time

        from project.fanout import on_every_shard

        both_waiting = threading.Barrier(6, timeout=10)
        failures = []

        def slow_count(alias):
            time.sleep(0.05)  # a slow query, well inside the timeout
            return Review.objects.using(alias).count()

        def page():
            both_waiting.wait()
            failures.append(on_every_shard(slow_count).failed)
            connections.close_all()

        threads = [threading.Thread(target=page) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(failures, [{}] * 6)
