"""``manage.py shadow_reset [MODEL ...]``: drop local changes, all or per model."""

from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models.signals import post_delete

from project.models import Tombstone
from project.overlay import LOCAL, leave_tombstone
from reviewsite.products.models import Product
from reviewsite.reviews.signals import delete_reviews_of_deleted_product


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
        labels = [label.lower() for label in models] or known
        if unknown := [label for label in labels if label not in known]:
            raise CommandError(
                f"Unknown model(s) {', '.join(unknown)}; use {', '.join(known)}."
            )
        with transaction.atomic(using=LOCAL):
            for label in labels:
                rows = drop_local_rows(apps.get_model(label))
                dead = forget_deletions(label)
                self.stdout.write(
                    f"{label}: dropped {rows} local row(s), {dead} deletion(s)"
                )


def drop_local_rows(model) -> int:
    """Delete the model's local rows, and only them (see without_side_effects)."""
    with without_side_effects():
        _, by_model = model._default_manager.using(LOCAL).all().delete()
    return by_model.get(model._meta.label, 0)


@contextmanager
def without_side_effects():
    """No tombstones for what a reset drops, and no reviews deleted with their
    product (the site's stand-in for ON DELETE CASCADE): resetting products
    must not touch reviews. A command runs in one thread: it may disconnect."""
    handlers = [(leave_tombstone, None), (delete_reviews_of_deleted_product, Product)]
    for handler, sender in handlers:
        post_delete.disconnect(handler, sender=sender)
    try:
        yield
    finally:
        for handler, sender in handlers:
            post_delete.connect(handler, sender=sender)


def forget_deletions(label: str) -> int:
    """The model's tombstones, and those of rows that went with its rows."""
    deleted, _ = Tombstone.objects.using(LOCAL).filter(model=label).delete()
    gone_with, _ = (
        Tombstone.objects.using(LOCAL).filter(cause__startswith=f"{label} ").delete()
    )
    return deleted + gone_with
