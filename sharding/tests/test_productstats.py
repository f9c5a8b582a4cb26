"""Per-product review figures kept by triggers on each shard: always what
counting the reviews would give, whatever writes them, and what a product
page reads instead of counting."""

from collections import Counter
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from project import productstats, shardmap
from project.models import ProductStats
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import (
    dealt_over,
    home,
    one_per_database,
    place,
    plan_a_swap,
    stored_reviews,
)


def counted() -> dict[str, dict[int, tuple]]:
    """The oracle: (reviews, rated, sum of ratings) per product per shard,
    counted from the reviews themselves."""
    figures = {alias: {} for alias in settings.SHARDS}
    for alias in settings.SHARDS:
        reviews, rated, total = Counter(), Counter(), Counter()
        for product_id, rating in Review.objects.using(alias).values_list(
            "product_id", "rating"
        ):
            reviews[product_id] += 1
            rated[product_id] += rating is not None
            total[product_id] += rating or 0
        figures[alias] = {p: (reviews[p], rated[p], total[p]) for p in reviews}
    return figures


def kept() -> dict[str, dict[int, tuple]]:
    """What the triggers keep, per shard."""
    return {
        alias: {
            s.product_id: (s.reviews, s.rated, s.total)
            for s in ProductStats.objects.using(alias)
        }
        for alias in settings.SHARDS
    }


ratings = st.one_of(st.none(), st.integers(1, 5))
writes = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 5), ratings),
        st.tuples(st.just("bulk_create"), st.integers(0, 5), st.lists(ratings)),
        st.tuples(st.just("save"), st.integers(0, 40), ratings),
        st.tuples(st.just("update"), st.integers(0, 5), ratings),
        st.tuples(st.just("delete"), st.integers(0, 40), st.none()),
        st.tuples(st.just("delete_product"), st.integers(0, 5), st.none()),
    ),
    max_size=25,
)


class FiguresTests(TestCase):
    databases = "__all__"

    @hypothesis_settings(max_examples=40, deadline=None)
    @given(writes)
    def test_the_figures_equal_a_count_of_the_reviews_after_any_writes(self, steps):
        products = [make_product(f"P{n}") for n in range(6)]
        for kind, n, rating in steps:
            reviews = list(Review.objects.filter(product_id=products[n % 6].pk))
            if kind == "create":
                make_review(products[n], rating=rating)
            elif kind == "bulk_create":
                Review.objects.bulk_create(
                    Review(product_id=products[n].pk, text="bulk", rating=r)
                    for r in rating
                )
            elif kind == "save" and reviews:
                review = reviews[n % len(reviews)]
                review.rating = rating
                review.save()
            elif kind == "update":
                Review.objects.filter(product_id=products[n].pk).update(rating=rating)
            elif kind == "delete" and reviews:
                reviews[n % len(reviews)].delete()
            elif kind == "delete_product":
                Review.objects.filter(product_id=products[n].pk).delete()
        self.assertEqual(kept(), counted())
        # Each product's figures on its own shard, on no other.
        for product in products:
            holders = {a for a, rows in kept().items() if product.pk in rows}
            self.assertLessEqual(holders, {home(product.pk)})

    def test_a_product_page_reads_its_figures_not_its_reviews(self):
        product = make_product()
        for rating in [5, 4, None, 1]:
            make_review(product, rating=rating)
        alias = home(product.pk)
        with CaptureQueriesContext(connections[alias]) as queries:
            response = self.client.get(reverse("product", args=[product.pk]))
        self.assertContains(response, "4 reviews · average 3.3")
        figures = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        self.assertEqual(figures, [])  # no review counted on the page
        self.assertEqual(
            sum(ProductStats._meta.db_table in q["sql"] for q in queries), 1
        )

    def test_the_product_list_shows_the_same_figures_as_a_count(self):
        products = [make_product(f"P{n}") for n in range(8)]
        for n in range(40):
            make_review(products[n % 8], rating=None if n % 7 == 0 else n % 5 + 1)
        listing = self.client.get(reverse("products")).context["object_list"]
        for product in listing:
            rows = [r for r in stored_reviews() if r[1] == product.pk]
            rated = [r[3] for r in rows if r[3] is not None]
            with self.subTest(product=product.pk):
                self.assertEqual(product.stats.count, len(rows))
                self.assertAlmostEqual(product.stats.average, sum(rated) / len(rated))

    def test_a_bulk_load_with_the_triggers_suspended_is_counted_at_the_end(self):
        product = make_product()
        make_review(product, rating=2)
        alias = home(product.pk)
        with productstats.suspended(alias):
            Review.objects.using(alias).bulk_create(
                Review(product_id=product.pk, text="loaded", rating=4)
                for _ in range(30)
            )
            self.assertEqual(kept()[alias][product.pk], (1, 1, 2))  # not yet
        self.assertEqual(kept()[alias][product.pk], (31, 31, 122))
        make_review(product, rating=None)  # the triggers are back
        self.assertEqual(kept(), counted())


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class RebalancedFiguresTests(TransactionTestCase):
    databases = "__all__"

    def test_the_figures_move_with_their_reviews(self):
        place(dealt_over(settings.SHARDS))
        products = [make_product(f"P{n}") for n in range(40)]
        for n in range(160):
            make_review(products[n % 40], rating=n % 5 + 1)
        swapped = one_per_database(products, ["shard0", "shard1"])
        plan_a_swap(swapped)
        call_command("rebalance", stdout=StringIO())
        shardmap.forget()
        self.assertEqual([home(p.pk) for p in swapped], ["shard1", "shard0"])
        self.assertEqual(kept(), counted())
        for product in products:
            response = self.client.get(reverse("product", args=[product.pk]))
            self.assertEqual(response.context["stats"].count, 4)
