"""The shared pages, reading through the overlay."""

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.web import views

from . import stitch
from .overlay import Overlay


class ProductListView(views.ProductListView):
    stitch = stitch

    def get_queryset(self):
        return Overlay(Product)


class ProductDetailView(views.ProductDetailView):
    stitch = stitch

    def get_queryset(self):
        return Overlay(Product)

    def get_reviews(self, product):
        return Overlay(Review).filter(product_id=product.pk)


class LatestReviewsView(views.LatestReviewsView):
    stitch = stitch

    def get_queryset(self):
        return Overlay(Review)


class ReviewDetailView(views.ReviewDetailView):
    stitch = stitch

    def get_queryset(self):
        return Overlay(Review)


class ReviewCreateView(views.ReviewCreateView):
    def dispatch(self, request, *args, **kwargs):
        # The product may be the snapshot's: find it through the overlay.
        from django.http import Http404

        try:
            self.product = Overlay(Product).get(pk=kwargs["pk"])
        except Product.DoesNotExist:
            raise Http404("No such product.") from None
        return super(views.ReviewCreateView, self).dispatch(request, *args, **kwargs)
