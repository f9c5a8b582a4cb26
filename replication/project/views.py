from django.conf import settings
from django.views.generic import TemplateView

from .replicas import health


class ReplicaStatusView(TemplateView):
    """Each replica's lag and health, read afresh."""

    template_name = "replication/status.html"

    def get_context_data(self, **kwargs):
        replicas = [
            {"alias": alias, "health": health(alias, fresh=True)}
            for alias in settings.REPLICAS
        ]
        return super().get_context_data(
            replicas=replicas, max_lag=settings.REPLICATION_MAX_LAG_SECONDS, **kwargs
        )
