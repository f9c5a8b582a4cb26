"""The shared pages, reading through the overlay."""

from django.http import Http404

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.web import views

from . import stitch
from .deep_pages import FastOverlay


class Overlaid:
    """A shared page whose rows, and the rows related to them, are read through
    the overlay: the snapshot's, changed by the local database."""

    stitch = stitch

    def get_queryset(self):
        return FastOverlay(self.model)


class ProductListView(Overlaid, views.ProductListView):
    pass


class ProductDetailView(Overlaid, views.ProductDetailView):
    def get_reviews(self, product):
        return FastOverlay(Review).filter(product_id=product.pk)


class LatestReviewsView(Overlaid, views.LatestReviewsView):
    pass


class ReviewDetailView(Overlaid, views.ReviewDetailView):
    pass


class ReviewCreateView(views.ReviewCreateView):
    def get_product(self, pk: int) -> Product:
        """The product may be the snapshot's: found through the overlay."""
        try:
            return FastOverlay(Product).get(pk=pk)
        except Product.DoesNotExist:
            raise Http404("No such product.") from None
