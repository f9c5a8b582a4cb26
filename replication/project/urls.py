from django.urls import path

from reviewsite.web.urls import urlpatterns as site

from .views import ReplicaStatusView

urlpatterns = [
    path("status/", ReplicaStatusView.as_view(), name="replication_status"),
    *site,
]
