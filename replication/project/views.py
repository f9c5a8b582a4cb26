from django.conf import settings
from django.views.generic import TemplateView

from .replicas import downtime, health


class ReplicaStatusView(TemplateView):
    """Each replica's lag and health, read afresh."""

    template_name = "replication/status.html"

    def get_context_data(self, **kwargs):
        replicas = []
        for alias in settings.REPLICAS:
            state = health(alias, fresh=True)
            down = downtime(state) if state.down else ""
            replicas.append({"alias": alias, "health": state, "down": down})
        return super().get_context_data(
            replicas=replicas, max_lag=settings.REPLICATION_MAX_LAG_SECONDS, **kwargs
        )
