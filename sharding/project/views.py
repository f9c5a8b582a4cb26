"""The pages that read more than one shard, or must survive a moving one."""

import re
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.db import DatabaseError
from django.db.models import Q
from django.http import Http404
from django.template.response import TemplateResponse
from django.views.generic import TemplateView

from reviewsite.reviews.models import Review
from reviewsite.web import views
from reviewsite.web.stitch import attach_authors, attach_products

from . import fence, shardmap, shares, stitch
from .ids import MAX_MS
from .settled import Settled


class LatestReviewsView(TemplateView):
    """The newest reviews of all shards, a page at a time, by cursor.

    Newest by ``created``, then id (as ``Review.Meta.ordering``): ids carry the
    time a row was written, which for imported or backdated reviews is not
    when they were created. Each shard returns its rows older than the cursor
    (a range scan of the (created, id) index), at most a page and one row
    more to tell whether an older page exists, merged newest first: page 500
    costs what page 1 costs. Each is asked first for its share of the page
    only, and for the rest of it if all its share made the page (shares.py).
    """

    template_name = "sharding/latest_reviews.html"
    per_page = 20

    def get_context_data(self, **kwargs):
        before = cursor(self.request.GET.get("before"))
        self.ownership = shardmap.ownership()  # one map for every shard
        self.settled = Settled()  # no move: no row's owner to test
        # One row more than a page says whether an older page has any.
        page = self.settled.read(
            lambda: shares.newest(
                self.older_than,
                before,
                self.per_page + 1,
                page_of=self.page_of,
                shards=self.ownership,
                key=position,
            )
        )
        more, reviews = len(page.rows) > self.per_page, page.rows[: self.per_page]
        attach_authors(attach_products(reviews))
        return super().get_context_data(
            reviews=reviews,
            next_cursor=cursor_after(reviews[-1]) if more else None,
            failed=page.failed,
            **kwargs,
        )

    def older_than(self, before: tuple | None):
        """Reviews older than the cursor, newest first, on any shard."""
        rows = Review.objects.order_by("-created", "-id")
        if before is not None:
            created, review_id = before
            rows = rows.filter(
                # created <= ... alone is what lets the index do a range scan.
                Q(created__lte=created),
                Q(created__lt=created) | Q(created=created, id__lt=review_id),
            )
        return rows

    def page_of(self, rows, alias: str, limit: int) -> list[Review]:
        """The first ``limit`` of ``rows`` on one shard, of its own logical shards."""
        return self.settled.fetch(rows, alias, self.ownership[alias], limit)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def position(review: Review) -> tuple:
    return review.created, review.pk


def cursor_after(review: Review) -> str:
    """The last row of a page, as ``<microseconds since 1970>_<id>``."""
    return f"{(review.created - EPOCH) // timedelta(microseconds=1)}_{review.pk}"


def cursor(value: str | None) -> tuple | None:
    """The ``before`` cursor, or nothing for the first page."""
    if value in (None, ""):
        return None
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (match := re.fullmatch(r"([0-9]{1,17})_([0-9]{1,19})", value)):
        raise Http404("Not a cursor.")
    microseconds, review_id = map(int, match.groups())
    try:
        created = EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:
        raise Http404("Not a cursor.") from None
    if review_id >= MAX_MS << 22:
        raise Http404("Not a cursor.")
    return created, review_id


class Degrading:
    """A page whose figures come from several shards: one that does not answer
    leaves its reviews out, with a warning, instead of failing the page."""

    stitch = stitch

    def get_context_data(self, **kwargs):
        token = stitch.unanswered.set({})
        try:
            context = super().get_context_data(**kwargs)
            failed = stitch.unanswered.get()
        finally:
            stitch.unanswered.reset(token)
        for alias, why in failed.items():
            messages.warning(
                self.request,
                f"{alias} did not answer ({why}): its reviews are missing here.",
            )
        return context


class ProductListView(Degrading, views.ProductListView):
    pass


class ProductDetailView(Degrading, views.ProductDetailView):
    pass


class ReviewDetailView(views.ReviewDetailView):
    """One review, found from its id alone, also just after its shard moved."""

    def get_object(self, queryset=None):
        try:
            return super().get_object(queryset)
        except Http404:
            shardmap.refresh(force=True)  # our copy of the map may be old
            return super().get_object(queryset)


class ReviewCreateView(views.ReviewCreateView):
    """Writing a review, which waits while its logical shard is being moved:
    refused when its id is issued, or by the shard's fence if the move began
    just after that."""

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except DatabaseError as error:
            if not fence.moving(error):
                raise
            context = {"product": self.product}
            return TemplateResponse(
                request, "sharding/moving.html", context, status=503
            )


class ShardsView(TemplateView):
    """Rows per shard, and the site-wide count and average combined from them."""

    template_name = "sharding/shards.html"

    def get_context_data(self, **kwargs):
        owned = shardmap.ownership()
        figures, fan = stitch.site_figures(owned)
        shards = [
            {
                "alias": alias,
                **fan.results.get(alias, {}),
                "error": fan.failed.get(alias),
            }
            for alias in shardmap.configured()
        ]
        shardmap.refresh()
        logical = {alias: 0 for alias in shardmap.configured()}
        for alias in shardmap._cache.aliases.values():
            logical[alias] = logical.get(alias, 0) + 1
        for shard in shards:
            shard["logical"] = logical.get(shard["alias"], 0)
        return super().get_context_data(
            shards=shards,
            reviews=figures.reviews,
            average=figures.average,
            **kwargs,
        )
