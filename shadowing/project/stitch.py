"""``reviewsite.web.stitch`` through the overlay: related rows and review
figures as the snapshot has them, changed by the local database."""

from collections import defaultdict

from django.contrib.auth import get_user_model

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.web import stitch as site
from reviewsite.web.stitch import ReviewStats

from .overlay import Overlay


def attach_products(reviews):
    products = Overlay(Product).in_bulk({r.product_id for r in reviews})
    for review in reviews:
        review.product = products.get(review.product_id)
    return reviews


def attach_authors(reviews):
    authors = Overlay(get_user_model()).in_bulk({r.author_id for r in reviews})
    for review in reviews:
        review.author = authors.get(review.author_id)
    return reviews


def review_stats(product_ids) -> dict[int, ReviewStats]:
    """Counted in Python: the visible reviews are a merge of two databases."""
    ratings = defaultdict(list)
    for review in Overlay(Review).filter(product_id__in=set(product_ids)):
        ratings[review.product_id].append(review.rating)
    stats = {}
    for product_id, values in ratings.items():
        rated = [v for v in values if v is not None]
        average = sum(rated) / len(rated) if rated else None
        stats[product_id] = ReviewStats(len(values), average)
    return stats


def attach_stats(products):
    return site.attach_stats(products, review_stats)
