"""The admin's list of every shard's reviews reads as one database's would:
newest first by default, each column's sort merged across shards, and a shard
that does not answer named in a warning, never silently dropped."""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import OperationalError, connections
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

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
