"""The pages of the review site, the same in every pattern project.

Each view fetches reviews through one small method (``get_reviews`` and
friends) so that a pattern whose reviews need more than the router, such as
sharding, overrides just that method.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.views.generic import CreateView, DetailView, ListView

from reviewsite.products.models import Product
from reviewsite.reviews.forms import ReviewForm
from reviewsite.reviews.models import Review

from . import stitch
from .stitch import ReviewStats


class Stitched:
    """Joins across databases (``reviewsite.web.stitch``); a pattern whose rows
    come from more than one place brings its own module (shadowing does)."""

    stitch = stitch


class ProductListView(Stitched, ListView):
    """Products with their review count and average rating."""

    model = Product
    paginate_by = 20
    template_name = "web/product_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["object_list"] = self.stitch.attach_stats(list(context["object_list"]))
        return context


class ProductDetailView(Stitched, DetailView):
    """One product with its reviews, newest first, a page at a time."""

    model = Product
    template_name = "web/product_detail.html"
    reviews_per_page = 10

    def get_reviews(self, product: Product) -> QuerySet[Review]:
        return Review.objects.filter(product_id=product.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        product = self.object
        stats = self.stitch.review_stats([product.pk]).get(product.pk, ReviewStats())
        paginator = Paginator(self.get_reviews(product), self.reviews_per_page)
        # The stats query has counted the reviews already: no second COUNT(*).
        paginator.count = stats.count
        page = paginator.get_page(self.request.GET.get("page"))
        page.object_list = self.stitch.attach_authors(list(page.object_list))
        context.update(stats=stats, page_obj=page, form=ReviewForm())
        return context


class ReviewCreateView(CreateView):
    """Write a review of a product, logged in or anonymously."""

    form_class = ReviewForm
    template_name = "web/review_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.product = self.get_product(kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_product(self, pk: int) -> Product:
        return get_object_or_404(Product, pk=pk)

    def get_form_kwargs(self):
        # The review knows its product before validation: validating its
        # constraints queries the database the router picks for it.
        user = self.request.user
        review = Review(
            product_id=self.product.pk,
            author_id=user.pk if user.is_authenticated else None,
        )
        return {**super().get_form_kwargs(), "instance": review}

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Thank you: your review is saved.")
        return response

    def get_success_url(self) -> str:
        return self.product.get_absolute_url()

    def get_context_data(self, **kwargs):
        return super().get_context_data(product=self.product, **kwargs)


class LatestReviewsView(Stitched, ListView):
    """The newest reviews of all products."""

    model = Review
    paginate_by = 20
    template_name = "web/review_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        reviews = self.stitch.attach_authors(
            self.stitch.attach_products(list(context["object_list"]))
        )
        context["object_list"] = reviews
        return context


class ReviewDetailView(Stitched, DetailView):
    """One review, with its product and author."""

    model = Review
    template_name = "web/review_detail.html"

    def get_object(self, queryset=None) -> Review:
        review = super().get_object(queryset)
        self.stitch.attach_authors(self.stitch.attach_products([review]))
        return review
