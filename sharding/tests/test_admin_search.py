"""The admin's search of review texts (``?q=``, ``text__icontains``) is served
by an index on every PostgreSQL shard: a match inside the text, which no
B-tree serves, scanned every review of every shard twice (the count, the
page): 2 s at a million reviews."""

from django.conf import settings
from django.contrib import admin
from django.db import connections
from django.test import RequestFactory, TestCase

from reviewsite.reviews.models import Review


class AdminSearchIndexTests(TestCase):
    databases = "__all__"

    def setUp(self):
        if connections["shard0"].vendor != "postgresql":
            self.skipTest("PostgreSQL: SQLite has no index for a match inside text")

    def test_every_shard_answers_the_admins_search_from_a_trigram_index(self):
        review_admin = admin.site._registry[Review]
        request = RequestFactory().get("/admin/reviews/review/", {"q": "Disappointing"})
        for alias in settings.SHARDS:
            rows = Review.objects.using(alias)
            found, _ = review_admin.get_search_results(request, rows, "Disappointing")
            with connections[alias].cursor() as cursor:  # as on a big table
                cursor.execute("SET LOCAL enable_seqscan = off")
            with self.subTest(alias=alias):
                self.assertIn("review_text_trigrams", found.explain())
