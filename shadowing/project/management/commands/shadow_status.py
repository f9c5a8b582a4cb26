"""``manage.py shadow_status``: what the local database changes, model by model."""

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand

from project.models import Tombstone
from project.overlay import LOCAL, SNAPSHOT


class Command(BaseCommand):
    help = "List local additions, changes and deletions over the snapshot."

    def handle(self, *args, **options):
        for label, how in settings.SHADOW_MODELS.items():
            model = apps.get_model(label)
            local = {row.pk: row for row in model._default_manager.using(LOCAL)}
            base = model._default_manager.using(SNAPSHOT)
            original = base.in_bulk(list(local)) if how == "augmented" else {}
            tombstones = Tombstone.objects.using(LOCAL).filter(model=label)
            dead = {tombstone.object_id: tombstone for tombstone in tombstones}
            deleted = base.in_bulk(list(dead))
            kept = {key for key, tombstone in dead.items() if tombstone.kept}
            added = [row for key, row in local.items() if key not in original]
            changed = [row for key, row in local.items() if key in original]
            self.stdout.write(
                f"{label} ({how}): {len(added)} added, {len(changed)} changed, "
                f"{len(deleted.keys() | kept)} deleted"
            )
            for row in added:
                self.stdout.write(f"  + #{row.pk} {row}")
            for row in changed:
                self.stdout.write(f"  ~ #{row.pk} {row}: {diff(original[row.pk], row)}")
            for key, tombstone in dead.items():
                if tombstone.kept:  # a local row buried with its product
                    self.stdout.write(
                        f"  - #{key} (with {tombstone.cause}, local row kept)"
                    )
                elif key in deleted:
                    why = f" (with {tombstone.cause})" if tombstone.cause else ""
                    self.stdout.write(f"  - #{key} {deleted[key]}{why}")


def diff(before, after) -> str:
    """The fields that differ, as ``name: old -> new``."""
    changes = []
    for field in before._meta.concrete_fields:
        old, new = field.value_from_object(before), field.value_from_object(after)
        if old != new:
            changes.append(f"{field.name}: {short(old)} -> {short(new)}")
    return "; ".join(changes) or "saved locally, no field differs"


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
