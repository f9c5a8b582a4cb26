from django.contrib import admin

from reviewsite.web import stitch
from reviewsite.web.exact_times import ExactTimesAdmin

from .forms import ReviewAdminForm
from .models import Review


@admin.register(Review)
class ReviewAdmin(ExactTimesAdmin):
    """Reviews in the admin. The router picks the database, as everywhere else;
    the changelist fetches the products and authors of a page in one query each.
    """

    form = ReviewAdminForm
    stitch = stitch  # how related rows are fetched (shadowing: the overlay's)
    list_display = ["id", "product_name", "author_name", "rating", "created"]
    list_filter = ["rating"]
    search_fields = ["text"]
    show_full_result_count = False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        page = self.page_of_results(request, changelist)
        changelist.result_list = self.stitch.attach_authors(
            self.stitch.attach_products(page)
        )
        return changelist

    def page_of_results(self, request, changelist) -> list[Review]:
        """The reviews the changelist shows (sharding reads them from all shards)."""
        return list(changelist.result_list)

    @admin.display(description="product")
    def product_name(self, review: Review) -> str:
        product = getattr(review, "product", None)
        return str(product) if product else f"#{review.product_id} (missing)"

    @admin.display(description="author")
    def author_name(self, review: Review) -> str:
        if review.author_id is None:
            return "anonymous"
        author = getattr(review, "author", None)
        return author.get_username() if author else f"#{review.author_id} (deleted)"
