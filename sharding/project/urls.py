from django.urls import path

from reviewsite.web.urls import pages, tools

from . import views

urlpatterns = [
    *pages(views),  # the pages that read several shards, or a moving one
    path("shards/", views.ShardsView.as_view(), name="shards"),
    *tools,
]
