"""The review changelist on one shard, or on all of them (the talk's exercise)."""

import heapq
from itertools import islice

from django.contrib import admin, messages
from django.db import transaction

from reviewsite.ordering import as_sorts, sort_key
from reviewsite.reviews.admin import ReviewAdmin
from reviewsite.reviews.models import Review

from .deep_pages import rows_at
from .fanout import on_every_shard
from .settled import Settled
from .shardmap import (
    NoShardInformation,
    configured,
    owned_rows,
    ownership,
    shard_for_product,
    shard_for_review,
)


class ShardFilter(admin.SimpleListFilter):
    title = "shard"
    parameter_name = "shard"

    def lookups(self, request, model_admin):
        return [(alias, alias) for alias in configured()]

    def queryset(self, request, queryset):
        if (alias := self.value()) in configured():
            # What it owns: not a copy being made there, nor one left to delete.
            return owned_rows(queryset, alias, ownership().get(alias, []))
        return queryset  # all shards: see AllShards


class AllShards:
    """The changelist's query on every shard, in the changelist's order (newest
    first unless a column is picked), merged: as much of a queryset as the
    admin's paginator uses (count and slices). A shard that does not answer is
    named in a warning, and the list goes on without its rows."""

    ordered = True

    def __init__(self, queryset, request):
        self.ordering = [str(field) for field in queryset.query.order_by]
        self.queryset = queryset
        self.request = request
        self.owned = ownership()  # one map for every shard
        self.settled = Settled()  # no move: no row's owner to test
        self.counts = None

    def ask(self, query) -> dict:
        """``query(alias, rows)`` on each shard that has answered so far."""
        warned = self.request.__dict__.setdefault("shards_warned_of", set())
        fan = on_every_shard(
            lambda a: query(a, self.rows_of(a)),
            shards=[alias for alias in self.owned if alias not in warned],
        )
        for alias, why in fan.failed.items():
            warned.add(alias)  # once a page: it counts, then slices
            messages.warning(
                self.request,
                f"Reviews of {alias} are missing here: it did not answer ({why}).",
            )
        return fan.results

    def rows_of(self, alias: str):
        rows = self.settled.rows(self.queryset, alias, self.owned[alias])
        return rows.order_by(*as_sorts(rows.model, self.ordering, alias))

    def count(self) -> int:
        self.counts = self.ask(lambda alias, rows: rows.count())
        if not self.settled.still():  # a move began: count again, owned rows
            return self.count()
        return sum(self.counts.values())

    def __getitem__(self, page: slice) -> list[Review]:
        start, stop = page.start or 0, page.stop
        if start == 0:  # the first page: nothing to skip
            pages = self.ask(lambda alias, rows: list(rows[:stop]))
            merged = heapq.merge(*pages.values(), key=sort_key(self.ordering))
            found = list(islice(merged, stop))
        else:
            if self.counts is None:
                self.count()
            found = rows_at(self.ask, self.ordering, self.counts, start, stop)
        if not self.settled.still():  # a move began: read again, owned rows
            self.counts = None
            return self[page]
        return found


class ShardedReviewAdmin(ReviewAdmin):
    list_filter = [ShardFilter, *ReviewAdmin.list_filter]
    show_full_result_count = False  # a second count of every shard, per page

    def one_shard(self, request) -> str | None:
        shard = request.GET.get(ShardFilter.parameter_name)
        return shard if shard in configured() else None

    def get_paginator(self, request, queryset, per_page, *args, **kwargs):
        if self.one_shard(request) is None:
            queryset = AllShards(queryset, request)
        return super().get_paginator(request, queryset, per_page, *args, **kwargs)

    def page_of_results(self, request, changelist) -> list[Review]:
        if self.one_shard(request) is None and not isinstance(
            changelist.result_list, list
        ):
            # One page only: Django hands back the queryset itself.
            return AllShards(changelist.queryset, request)[: changelist.result_count]
        return list(changelist.result_list)

    def get_readonly_fields(self, request, obj=None):
        # A review's id carries its product's logical shard: another product
        # would mean another shard. Write a new review there instead.
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "product_id"] if obj is not None else fields

    def get_actions(self, request, action_location=None):
        # Bulk actions run one query on one database: pick a shard first.
        # (action_location: Django 6.1 asks per place, list or change form.)
        if self.one_shard(request) is None:
            return {}
        where = {} if action_location is None else {"action_location": action_location}
        return super().get_actions(request, **where)

    # Django wraps these views in transaction.atomic(router.db_for_write(model)),
    # with no instance to say which shard: wrap them on the review's own shard.
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic(using=shard_of(request, object_id)):
            return self._changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        with transaction.atomic(using=shard_of(request, object_id)):
            return self._delete_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        """Reviews have no dependants: nothing to collect across databases."""
        perms_needed = set() if self.has_delete_permission(request) else {"review"}
        return [str(o) for o in objs], {"reviews": len(objs)}, perms_needed, []


def shard_of(request, object_id) -> str:
    """The shard of the review being changed, or of the product one is added to."""
    try:
        if object_id is not None:
            return shard_for_review(int(object_id))
        if request.method == "POST":
            return shard_for_product(int(request.POST["product_id"]))
    except (KeyError, ValueError, NoShardInformation):
        pass  # the form will say what is wrong; nothing reaches a shard
    return "default"


admin.site.unregister(Review)
admin.site.register(Review, ShardedReviewAdmin)
