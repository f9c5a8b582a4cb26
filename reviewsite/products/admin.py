from django.contrib import admin
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from reviewsite.web import stitch

from .models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price", "created"]
    search_fields = ["name"]
    stitch = stitch  # where reviews are read from (shadowing: the overlay)

    def get_deleted_objects(self, objs, request):
        """Django's list of what a delete takes with it, plus the reviews: in
        another database, Django's collector cannot see them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        found = self.stitch.reviews_of(obj.pk for obj in objs)
        for alias, reviews in found.items():
            if not reviews:
                continue
            deleted.append(
                format_html(
                    "{} review{} from the {} database, removed with it (after "
                    "the product's delete has committed, in another transaction):",
                    len(reviews),
                    pluralize(len(reviews)),
                    alias,
                )
            )
            deleted.append([self.review_link(review) for review in reviews])
        counts["reviews"] = sum(len(reviews) for reviews in found.values())
        return deleted, counts, perms_needed, protected

    def review_link(self, review) -> str:
        url = reverse("admin:reviews_review_change", args=[review.pk])
        text = Truncator(review.text).chars(60)
        return format_html('Review: <a href="{}">{}</a>: {}', url, review, text)
