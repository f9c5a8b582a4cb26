from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Shadowing"

    def ready(self) -> None:
        from . import overlay

        post_migrate.connect(overlay.number_local_rows_high, sender=self)
        post_delete.connect(overlay.leave_tombstone)
