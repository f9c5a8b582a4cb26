from types import ModuleType

from django.contrib import admin
from django.urls import URLPattern, include, path, register_converter

from . import views as site_views
from .converters import DatabaseIdConverter

register_converter(DatabaseIdConverter, "id")


def pages(views: ModuleType | None = None) -> list[URLPattern]:
    """The site's pages. A pattern project passes its own views module: a page
    it defines there replaces the shared one, the others stay as they are."""

    def view(name: str):
        return getattr(views, name, getattr(site_views, name)).as_view()

    return [
        path("", view("ProductListView"), name="products"),
        path("products/<id:pk>/", view("ProductDetailView"), name="product"),
        path("products/<id:pk>/review/", view("ReviewCreateView"), name="write_review"),
        path("reviews/", view("LatestReviewsView"), name="latest_reviews"),
        path("reviews/<id:pk>/", view("ReviewDetailView"), name="review"),
    ]


tools = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

urlpatterns = [*pages(), *tools]
