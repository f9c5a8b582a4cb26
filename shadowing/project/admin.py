"""The admin over the overlay: changelists show the snapshot's rows with the
local ones, and a snapshot row opened in the admin is saved as its local copy
(copy-on-write), or deleted with a tombstone, as anywhere else on the site."""

from django.contrib import admin
from django.core.exceptions import ValidationError

from reviewsite.products.admin import ProductAdmin
from reviewsite.products.models import Product
from reviewsite.reviews.admin import ReviewAdmin
from reviewsite.reviews.forms import ReviewAdminForm
from reviewsite.reviews.models import Review

from . import stitch
from .deep_pages import FastOverlay


class OverlayAdmin(admin.ModelAdmin):
    show_full_result_count = False  # it would cost a second overlay count
    show_facets = admin.ShowFacets.NEVER  # counted by SQL: the local rows only

    def get_list_display(self, request):
        return [*super().get_list_display(request), "source"]

    @admin.display(description="from")
    def source(self, row) -> str:
        return getattr(row, "shadow_source", "local")

    def get_paginator(self, request, queryset, per_page, *args, **kwargs):
        """The changelist's query, filters and ordering included, on both sides.
        (Other pages page other models: the history view, the admin's log.)"""
        if queryset.model is self.model:
            queryset = FastOverlay(
                self.model, base=queryset, ordering=queryset.query.order_by
            )
        return super().get_paginator(request, queryset, per_page, *args, **kwargs)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        changelist.result_list = self.page_of_results(request, changelist)
        return changelist

    def page_of_results(self, request, changelist) -> list:
        if isinstance(changelist.result_list, list):
            return changelist.result_list
        # One page, or "show all": Django hands back its local queryset itself.
        return list(changelist.paginator.object_list)

    def get_actions(self, request, action_location=None):
        # A bulk action runs one query on the local database only.
        return {}

    def get_object(self, request, object_id, from_field=None):
        """The local row, or else the snapshot's (saving it makes a local copy)."""
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        try:
            key = self.model._meta.pk.to_python(object_id)
            return FastOverlay(self.model, base=self.get_queryset(request)).get(pk=key)
        except (self.model.DoesNotExist, ValidationError, ValueError):
            return None


class OverlayProductAdmin(OverlayAdmin, ProductAdmin):
    stitch = stitch


class OverlayReviewAdminForm(ReviewAdminForm):
    def rows(self, model):
        return FastOverlay(model)


class OverlayReviewAdmin(OverlayAdmin, ReviewAdmin):
    form = OverlayReviewAdminForm
    stitch = stitch


admin.site.unregister(Product)
admin.site.register(Product, OverlayProductAdmin)
admin.site.unregister(Review)
admin.site.register(Review, OverlayReviewAdmin)
