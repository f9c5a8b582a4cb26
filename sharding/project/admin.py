"""The review changelist on one shard, or on all of them (the talk's exercise)."""

import heapq
from itertools import islice

from django.contrib import admin
from django.db import transaction

from reviewsite.reviews.admin import ReviewAdmin
from reviewsite.reviews.models import Review

from .fanout import on_every_shard
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
    """The changelist's query on every shard, newest first: as much of a
    queryset as the admin's paginator uses (count and slices)."""

    ordered = True

    def __init__(self, queryset):
        self.queryset = queryset.order_by("-id")
        self.owned = ownership()  # one map for every shard

    def count(self) -> int:
        counts = on_every_shard(
            lambda a: owned_rows(self.queryset, a, self.owned[a]).count(),
            shards=self.owned,
        )
        return sum(counts.results.values())

    def __getitem__(self, page: slice) -> list[Review]:
        rows = on_every_shard(
            lambda a: list(owned_rows(self.queryset, a, self.owned[a])[: page.stop]),
            shards=self.owned,
        )
        newest_first = heapq.merge(*rows.results.values(), key=lambda r: -r.pk)
        return list(islice(newest_first, page.start or 0, page.stop))


class ShardedReviewAdmin(ReviewAdmin):
    list_filter = [ShardFilter, *ReviewAdmin.list_filter]

    def one_shard(self, request) -> str | None:
        shard = request.GET.get(ShardFilter.parameter_name)
        return shard if shard in configured() else None

    def get_paginator(self, request, queryset, per_page, *args, **kwargs):
        if self.one_shard(request) is None:
            queryset = AllShards(queryset)
        return super().get_paginator(request, queryset, per_page, *args, **kwargs)

    def page_of_results(self, request, changelist) -> list[Review]:
        if self.one_shard(request) is None and not isinstance(
            changelist.result_list, list
        ):
            # One page only: Django hands back the queryset itself.
            return AllShards(changelist.queryset)[0 : changelist.result_count]
        return list(changelist.result_list)

    def get_readonly_fields(self, request, obj=None):
        # A review's id carries its product's logical shard: another product
        # would mean another shard. Write a new review there instead.
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "product_id"] if obj is not None else fields

    def get_actions(self, request):
        # Bulk actions run one query on one database: pick a shard first.
        return super().get_actions(request) if self.one_shard(request) else {}

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
