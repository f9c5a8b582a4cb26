"""``manage.py shadow_reset [MODEL ...]``: drop local changes, all or per model."""

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from project.models import Tombstone
from project.overlay import LOCAL, forgetting_deletions


class Command(BaseCommand):
    help = (
        "Drop the local rows and tombstones of shadowed models: back to the snapshot."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "models", nargs="*", help="e.g. reviews.review; all if none"
        )

    def handle(self, *args, models, **options):
        known = list(settings.SHADOW_MODELS)
        unknown = [label for label in models if label.lower() not in known]
        if unknown:
            raise CommandError(
                f"Unknown model(s) {', '.join(unknown)}; use {', '.join(known)}."
            )
        with transaction.atomic(using=LOCAL):
            for label in [m.lower() for m in models] or known:
                model = apps.get_model(label)
                with forgetting_deletions():
                    rows, _ = model._default_manager.using(LOCAL).all().delete()
                dead, _ = Tombstone.objects.using(LOCAL).filter(model=label).delete()
                self.stdout.write(
                    f"{label}: dropped {rows} local row(s), {dead} deletion(s)"
                )
