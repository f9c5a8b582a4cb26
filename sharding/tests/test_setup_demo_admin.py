"""setup_demo spreads reviews over the shards; the admin reads one shard or all."""

from io import StringIO
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import TestCase, TransactionTestCase
from django.urls import reverse

from project.admin import ShardedReviewAdmin
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count

from .helpers import home, newest, stored_reviews, where_is


class SetupDemoTests(TransactionTestCase):
    databases = "__all__"

    def test_reviews_spread_over_every_shard_each_on_its_products(self):
        out = StringIO()
        call_command("setup_demo", "--products", "30", "--reviews", "300", stdout=out)
        counts = {alias: raw_count(alias, Review) for alias in settings.SHARDS}
        self.assertEqual(sum(counts.values()), 300)
        self.assertTrue(all(counts.values()), counts)
        self.assertEqual(raw_count("default", Product), 30)
        for review_id, product_id, *_ in stored_reviews():
            self.assertEqual(where_is(id=review_id), [home(product_id)])
        for alias, count in counts.items():
            self.assertIn(f"{alias:<12} {count:,} reviews", out.getvalue())
        # A second run neither duplicates nor fails.
        call_command("setup_demo", "--products", "30", "--reviews", "300", stdout=out)
        self.assertEqual(sum(raw_count(a, Review) for a in settings.SHARDS), 300)


class VacuumedAfterLoadingTests(TransactionTestCase):
    """A bulk load leaves PostgreSQL's visibility map empty until autovacuum
    comes, minutes later: a count then reads every row's page as well as the
    index, and the admin's page 1,000 of a million reviews took 0.47 s
    instead of 0.17 s. setup_demo vacuums and analyzes what it loaded."""

    databases = "__all__"

    def test_every_postgresql_database_it_loaded_is_vacuumed(self):
        if connections["shard0"].vendor != "postgresql":
            self.skipTest("PostgreSQL: SQLite has no visibility map")
        out = StringIO()
        call_command("setup_demo", "--products", "30", "--reviews", "300", stdout=out)
        for alias in settings.SHARDS:
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL"
                    " FROM pg_stat_user_tables WHERE relname = %s",
                    [Review._meta.db_table],
                )
                with self.subTest(alias=alias):
                    self.assertEqual(cursor.fetchone(), (True, True))
            self.assertIn(f"Vacuumed and analyzed {alias}", out.getvalue())


class ShardedAdminTests(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.boss = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        cls.products = [make_product(f"P{n}") for n in range(8)]
        for n in range(40):
            make_review(cls.products[n % 8], text=f"admin {n}")

    def setUp(self):
        self.client.force_login(self.boss)

    def test_all_shards_by_default_and_one_when_picked(self):
        url = reverse("admin:reviews_review_changelist")
        self.assertContains(self.client.get(url), "40 reviews")
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                expected = raw_count(alias, Review)
                response = self.client.get(url, {"shard": alias})
                self.assertEqual(response.context["cl"].result_count, expected)

    def test_all_shards_pages_are_newest_first_without_gaps(self):
        url = reverse("admin:reviews_review_changelist")
        seen = []
        with mock.patch.object(ShardedReviewAdmin, "list_per_page", 15):
            for page in [1, 2, 3]:
                response = self.client.get(url, {"p": page})
                seen += [r.pk for r in response.context["cl"].result_list]
        newest_first = sorted(stored_reviews(), key=newest, reverse=True)
        self.assertEqual(seen, [row[0] for row in newest_first])

    def test_editing_saves_to_the_review_shard(self):
        review_id, product_id, *_ = stored_reviews()[0]
        url = reverse("admin:reviews_review_change", args=[review_id])
        form = {"product_id": product_id, "author_id": "", "rating": "3",
                "text": "Edited in the admin", "created_0": "2026-01-02",
                "created_1": "10:00:00"}  # fmt: skip
        self.assertEqual(self.client.post(url, form).status_code, 302)
        self.assertEqual(where_is(text="Edited in the admin"), [home(product_id)])

    def test_deleting_removes_from_the_review_shard(self):
        review_id = stored_reviews()[0][0]
        url = reverse("admin:reviews_review_delete", args=[review_id])
        self.assertContains(self.client.get(url), "Are you sure")
        self.assertEqual(self.client.post(url, {"post": "yes"}).status_code, 302)
        self.assertEqual(where_is(id=review_id), [])
