from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Replication"

    def ready(self):
        from .checks import pin_outlasts_lag
        from .pinning import watch_connection

        connection_created.connect(watch_connection)
        checks.register(pin_outlasts_lag)
