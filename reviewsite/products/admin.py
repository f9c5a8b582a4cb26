from django.contrib import admin
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from reviewsite.web import stitch
from reviewsite.web.exact_times import ExactTimesAdmin

from .models import Product


@admin.register(Product)
class ProductAdmin(ExactTimesAdmin):
    list_display = ["name", "price", "created"]
    search_fields = ["name"]
    stitch = stitch  # where reviews are read from (shadowing: the overlay)
    reviews_shown = 100  # on the delete confirmation; the count says the rest

    def get_deleted_objects(self, objs, request):
        """Django's list of what a delete takes with it, plus the reviews: in
        another database, Django's collector cannot see them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        total = 0
        for place, reviews in self.stitch.reviews_of(obj.pk for obj in objs).items():
            shown = list(reviews[: self.reviews_shown + 1])
            if not shown:
                continue
            count = len(shown)
            if count > self.reviews_shown:
                count, shown = reviews.count(), shown[: self.reviews_shown]
            deleted.append(
                format_html(
                    "{} review{} in {}, removed with it:",
                    count,
                    pluralize(count),
                    place,
                )
            )
            links = [self.review_link(review) for review in shown]
            if count > len(shown):
                links.append(f"... and {count - len(shown)} more")
            deleted.append(links)
            total += count
        counts["reviews"] = total
        return deleted, counts, perms_needed, protected

    def review_link(self, review) -> str:
        url = reverse("admin:reviews_review_change", args=[review.pk])
        text = Truncator(review.text).chars(60)
        return format_html('Review: <a href="{}">{}</a>: {}', url, review, text)
