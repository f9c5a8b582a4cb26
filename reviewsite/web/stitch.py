"""Join rows from different databases in Python, one query per table.

A database cannot join a table that lives in another database, so a page that
shows reviews with their products and authors fetches each kind of row once,
by the set of ids it needs, and pairs them up here. The number of queries
stays the same however many rows the page shows.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import router
from django.db.models import Avg, Count, QuerySet

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review


@dataclass(frozen=True)
class ReviewStats:
    count: int = 0
    average: float | None = None


def attach_products(reviews: Sequence[Review]) -> Sequence[Review]:
    """Set ``review.product`` (None if the product is gone) with one query."""
    products = Product.objects.in_bulk({r.product_id for r in reviews})
    for review in reviews:
        review.product = products.get(review.product_id)
    return reviews


def attach_authors(reviews: Sequence[Review]) -> Sequence[Review]:
    """Set ``review.author`` (None if anonymous or deleted) with one query."""
    ids = {r.author_id for r in reviews if r.author_id is not None}
    authors = get_user_model().objects.in_bulk(ids)
    for review in reviews:
        review.author = authors.get(review.author_id)
    return reviews


def review_stats(product_ids: Iterable[int]) -> dict[int, ReviewStats]:
    """Count and average rating of the reviews of each product: one query per
    database that holds them (the router says which, product by product)."""
    stats = {}
    for alias, ids in products_by_database(product_ids).items():
        stats.update(review_stats_on(alias, ids))
    return stats


def reviews_of(product_ids: Iterable[int]) -> dict[str, QuerySet]:
    """The reviews of these products, a query per database that holds them."""
    return {
        alias: Review.objects.using(alias).filter(product_id__in=ids)
        for alias, ids in products_by_database(product_ids).items()
    }


def products_by_database(product_ids: Iterable[int]) -> dict[str, set[int]]:
    """The products whose reviews each database holds, as the router says."""
    by_database = defaultdict(set)
    for product_id in set(product_ids):
        by_database[router.db_for_read(Review, product_id=product_id)].add(product_id)
    return by_database


def review_stats_on(alias: str, product_ids: set[int]) -> dict[int, ReviewStats]:
    """The figures of these products' reviews on one database: one query."""
    rows = (
        Review.objects.using(alias)
        .filter(product_id__in=product_ids)
        # order_by() drops Meta.ordering, which would join the GROUP BY.
        .order_by()
        .values("product_id")
        .annotate(count=Count("id"), average=Avg("rating"))
    )
    return {
        row["product_id"]: ReviewStats(row["count"], row["average"]) for row in rows
    }


def attach_stats(products: Sequence[Product], stats_of=None) -> Sequence[Product]:
    """Set ``product.stats`` for every product with one query on the reviews
    (per database; ``stats_of`` replaces ``review_stats``)."""
    stats = (stats_of or review_stats)(p.pk for p in products)
    for product in products:
        product.stats = stats.get(product.pk, ReviewStats())
    return products
