"""The admin's list of every shard's reviews reads as one database's would:
newest first by default, each column's sort merged across shards, and a shard
that does not answer named in a warning, never silently dropped."""

import random
import re
from contextlib import ExitStack
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import OperationalError, connections
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from project import deep_pages
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import home, stored_reviews

URL = reverse("admin:reviews_review_changelist")


def in_order(rows, ordering):
    """Rows (id, product_id, author_id, rating, text, created) sorted as one
    database would: NULLs first when ascending, last when descending."""
    columns = {"pk": 0, "id": 0, "rating": 3, "created": 5}
    result = list(rows)
    for field in reversed(ordering):
        n, descending = columns[field.lstrip("-")], field.startswith("-")
        result.sort(
            key=lambda row: (row[n] is not None, row[n] if row[n] is not None else 0),
            reverse=descending,
        )
    return [row[0] for row in result]


class AllShardsChangelistTests(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.boss = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        products = [make_product(f"P{n}") for n in range(8)]
        rng = random.Random(7)
        now = timezone.now()
        for n in range(60):  # backdated at random: ids say nothing of the time
            make_review(
                products[n % 8],
                text=f"admin {n}",
                rating=rng.choice([None, 1, 2, 3, 4, 5]),
                created=now - timedelta(minutes=rng.randrange(10_000)),
            )

    def setUp(self):
        self.client.force_login(self.boss)

    def shown(self, **params) -> list[int]:
        response = self.client.get(URL, params)
        self.assertEqual(response.status_code, 200)
        return [row.pk for row in response.context["cl"].result_list]

    def test_newest_first_by_default(self):
        expected = in_order(stored_reviews(), ["-created", "-id"])
        self.assertEqual(self.shown(), expected[:100])

    def test_each_sortable_column_sorts_the_merged_list(self):
        # list_display: id (0), product, author, rating (3), created (4)
        for o, ordering in [
            ("0", ["pk"]),
            ("-0", ["-pk"]),
            ("3", ["rating", "-pk"]),
            ("-3", ["-rating", "-pk"]),
            ("4", ["created", "-pk"]),
            ("-3.4", ["-rating", "created", "-pk"]),
        ]:
            with self.subTest(o=o):
                expected = in_order(stored_reviews(), ordering)
                self.assertEqual(self.shown(o=o), expected[:100])

    def test_every_page_of_every_order_is_the_merged_list(self):
        orderings = {
            "": ["-created", "-id"],
            "0": ["pk"],
            "-3.4": ["-rating", "created", "-pk"],
        }
        with mock.patch.object(admin.site._registry[Review], "list_per_page", 7):
            for o, ordering in orderings.items():
                expected = in_order(stored_reviews(), ordering)
                for p in range(1, 10):
                    with self.subTest(o=o, p=p):
                        shown = self.shown(o=o, p=p) if o else self.shown(p=p)
                        self.assertEqual(shown, expected[(p - 1) * 7 : p * 7])

    def test_a_deep_page_reads_about_a_page_from_each_shard(self):
        """Page p once read p pages from every shard, and merged them."""
        limits = []

        def record(execute, sql, params, many, context):
            if "reviews_review" in sql and (limit := re.search(r"LIMIT (\d+)", sql)):
                limits.append(int(limit[1]))
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            stack.enter_context(
                mock.patch.object(admin.site._registry[Review], "list_per_page", 3)
            )
            for alias in settings.SHARDS:
                stack.enter_context(connections[alias].execute_wrapper(record))
            shown = self.shown(p=19)
        self.assertEqual(shown, in_order(stored_reviews(), ["-created", "-id"])[54:57])
        self.assertTrue(limits)
        self.assertLessEqual(max(limits), 2 * 3)

    def test_a_shard_that_does_not_answer_is_named_not_dropped(self):
        down = home(stored_reviews()[0][1])

        def broken(execute, sql, params, many, context):
            raise OperationalError("server closed the connection unexpectedly")

        with connections[down].execute_wrapper(broken):
            response = self.client.get(URL)
        self.assertContains(response, f"Reviews of {down} are missing", count=1)
        shown = [row.pk for row in response.context["cl"].result_list]
        elsewhere = [r for r in stored_reviews() if home(r[1]) != down]
        self.assertEqual(shown, in_order(elsewhere, ["-created", "-id"]))


class ActionsSignatureTests(TestCase):
    databases = "__all__"

    def test_no_deprecated_get_actions_on_any_django(self):
        """Django 6.1 warns about get_actions() without action_location."""
        import warnings

        boss = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        self.client.force_login(boss)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.client.get(URL)
            self.client.get(URL, {"shard": "shard0"})
        self.assertEqual([w for w in caught if "get_actions" in str(w.message)], [])


class ShardFailingMidPageTests(TestCase):
    """A shard that answers the count and then fails while a deep page is
    looked for: the page is one of the list of the others, as when it fails on
    page 1 (never rows of the failed shard, never a crash)."""

    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.boss = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        products = [make_product(f"P{n}") for n in range(8)]
        now = timezone.now()
        for n in range(60):
            make_review(products[n % 8], created=now - timedelta(minutes=n % 7))

    def test_the_page_goes_on_without_the_shard_that_failed(self):
        self.client.force_login(self.boss)
        victim = home(stored_reviews()[0][1])
        real = deep_pages.preceding

        def failing(model, ordering, row, alias):
            if alias == victim:
                raise OperationalError("server closed the connection unexpectedly")
            return real(model, ordering, row, alias)

        with (
            mock.patch.object(admin.site._registry[Review], "list_per_page", 3),
            mock.patch.object(deep_pages, "preceding", failing),
        ):
            response = self.client.get(URL, {"p": 5})
        self.assertContains(response, f"Reviews of {victim} are missing", count=1)
        shown = [row.pk for row in response.context["cl"].result_list]
        others = in_order(
            [r for r in stored_reviews() if home(r[1]) != victim], ["-created", "-id"]
        )
        self.assertEqual(shown, others[12:15])
