"""``reviewsite.web.stitch`` across shards: review figures from every shard at
once, and pages that lose one shard's reviews, not all of them, when it fails."""

from contextvars import ContextVar

from reviewsite.web import stitch as site
from reviewsite.web.stitch import ReviewStats, attach_authors, attach_products

from .fanout import on_every_shard

__all__ = ["ReviewStats", "attach_authors", "attach_products", "attach_stats"]

# The shards that did not answer during this page, and why (see views.Degrading).
unanswered: ContextVar[dict | None] = ContextVar("unanswered", default=None)


def review_stats(product_ids) -> dict[int, ReviewStats]:
    """Counts and averages, each shard asked in parallel for its products."""
    by_shard = site.products_by_database(product_ids)
    fan = on_every_shard(
        lambda alias: site.review_stats_on(alias, by_shard[alias]), shards=by_shard
    )
    if (failed := unanswered.get()) is not None:
        failed.update(fan.failed)
    return {pk: stats for part in fan.results.values() for pk, stats in part.items()}


def attach_stats(products):
    return site.attach_stats(products, review_stats)
