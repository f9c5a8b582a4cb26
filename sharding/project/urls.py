from django.urls import path

from reviewsite.web.urls import urlpatterns as site

from . import views

urlpatterns = [
    path("", views.ProductListView.as_view(), name="products"),
    path("products/<id:pk>/", views.ProductDetailView.as_view(), name="product"),
    path("reviews/", views.LatestReviewsView.as_view(), name="latest_reviews"),
    path("reviews/<id:pk>/", views.ReviewDetailView.as_view(), name="review"),
    path(
        "products/<id:pk>/review/",
        views.ReviewCreateView.as_view(),
        name="write_review",
    ),
    path("shards/", views.ShardsView.as_view(), name="shards"),
    *site,  # Django uses the first match: the views above win
]
