"""``reviewsite.web.stitch`` across shards: review figures from every shard at
once, and pages that lose one shard's reviews, not all of them, when it fails."""

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from django.db.models import Count, Sum

from reviewsite.reviews.models import Review
from reviewsite.web import stitch as site
from reviewsite.web.stitch import ReviewStats, attach_authors, attach_products

from . import productstats, shardmap
from .fanout import FanOut, on_every_shard

__all__ = [
    "ReviewStats",
    "SiteFigures",
    "attach_authors",
    "attach_products",
    "attach_stats",
    "shard_figures",
    "site_figures",
]

# The shards that did not answer during this page, and why (see views.Degrading).
unanswered: ContextVar[dict | None] = ContextVar("unanswered", default=None)


def review_stats(product_ids) -> dict[int, ReviewStats]:
    """Counts and averages, each shard asked in parallel for its products:
    one row per product, kept by the shard's triggers, not a count of its reviews."""
    by_shard = site.products_by_database(product_ids)
    fan = on_every_shard(
        lambda alias: productstats.stats_on(alias, by_shard[alias]), shards=by_shard
    )
    if (failed := unanswered.get()) is not None:
        failed.update(fan.failed)
    return {pk: stats for part in fan.results.values() for pk, stats in part.items()}


def attach_stats(products):
    return site.attach_stats(products, review_stats)


@dataclass(frozen=True)
class SiteFigures:
    """Reviews of the whole site, added up from every shard's sums and counts."""

    reviews: int = 0
    rated: int = 0
    total: int = 0  # the sum of the ratings

    @property
    def average(self) -> float | None:
        # An average of averages would weigh a small shard like a big one.
        return self.total / self.rated if self.rated else None

    @classmethod
    def combine(cls, parts: Iterable[dict]) -> "SiteFigures":
        parts = list(parts)
        return cls(
            reviews=sum(p["reviews"] for p in parts),
            rated=sum(p["rated"] for p in parts),
            total=sum(p["total"] or 0 for p in parts),
        )


def shard_figures(alias: str, owned: list[int]) -> dict:
    """Reviews, rated reviews and the sum of ratings of one shard: one query,
    on the logical shards the map gives it (a copy being made is not counted)."""
    return shardmap.owned_rows(Review.objects, alias, owned).aggregate(
        reviews=Count("id"), rated=Count("rating"), total=Sum("rating")
    )


def site_figures(owned: dict[str, list[int]]) -> tuple[SiteFigures, FanOut]:
    """Every shard's figures, asked in parallel, and the site's made from them."""
    fan = on_every_shard(lambda alias: shard_figures(alias, owned[alias]), shards=owned)
    return SiteFigures.combine(fan.results.values()), fan
