"""``reviewsite.web.stitch`` through the overlay: related rows and review
figures as the snapshot has them, changed by the local database."""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db.models import Count, Sum

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.web import stitch as site
from reviewsite.web.stitch import ReviewStats

from .deep_pages import FastOverlay


def attach_products(reviews):
    products = FastOverlay(Product).in_bulk({r.product_id for r in reviews})
    for review in reviews:
        review.product = products.get(review.product_id)
    return reviews


def attach_authors(reviews):
    authors = FastOverlay(get_user_model()).in_bulk({r.author_id for r in reviews})
    for review in reviews:
        review.author = authors.get(review.author_id)
    return reviews


def reviews_of(product_ids) -> dict:
    """The reviews of these products, by the side of the overlay they come from."""
    reviews = FastOverlay(Review).filter(product_id__in=set(product_ids))
    return {"local": reviews.local(), "snapshot": reviews.snapshot()}


def review_stats(product_ids) -> dict[int, ReviewStats]:
    """One GROUP BY on each side of the overlay, added up: the sides never
    share a row (the snapshot's leaves out what the local one overrides)."""
    reviews = FastOverlay(Review).filter(product_id__in=set(product_ids))
    totals = defaultdict(lambda: [0, 0, 0])  # reviews, rated, sum of ratings
    for side in [reviews.local(), reviews.snapshot()]:
        rows = (
            side.order_by()
            .values("product_id")
            .annotate(count=Count("id"), rated=Count("rating"), total=Sum("rating"))
        )
        for row in rows:
            figures = totals[row["product_id"]]
            figures[0] += row["count"]
            figures[1] += row["rated"]
            figures[2] += row["total"] or 0
    # An average of the two sides' averages would weigh them alike.
    return {
        pk: ReviewStats(count, total / rated if rated else None)
        for pk, (count, rated, total) in totals.items()
    }


def attach_stats(products):
    return site.attach_stats(products, review_stats)
