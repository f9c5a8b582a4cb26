from django.contrib import admin
from django.urls import include, path, register_converter

from . import views
from .converters import DatabaseIdConverter

register_converter(DatabaseIdConverter, "id")

urlpatterns = [
    path("", views.ProductListView.as_view(), name="products"),
    path("products/<id:pk>/", views.ProductDetailView.as_view(), name="product"),
    path(
        "products/<id:pk>/review/",
        views.ReviewCreateView.as_view(),
        name="write_review",
    ),
    path("reviews/", views.LatestReviewsView.as_view(), name="latest_reviews"),
    path("reviews/<id:pk>/", views.ReviewDetailView.as_view(), name="review"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
