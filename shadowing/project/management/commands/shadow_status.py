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
            dead = dict(tombstones.values_list("object_id", "cause"))
            # A buried local row (a review of a deleted product) counts as
            # deleted: the overlay hides it until its cause is reset.
            deleted = base.in_bulk(list(dead)) | {
                key: row for key, row in local.items() if key in dead
            }
            local = {key: row for key, row in local.items() if key not in dead}
            added = [row for key, row in local.items() if key not in original]
            changed = [row for key, row in local.items() if key in original]
            self.stdout.write(
                f"{label} ({how}): {len(added)} added, {len(changed)} changed, "
                f"{len(deleted)} deleted"
            )
            for row in added:
                self.stdout.write(f"  + #{row.pk} {row}")
            for row in changed:
                self.stdout.write(f"  ~ #{row.pk} {row}: {diff(original[row.pk], row)}")
            for row in deleted.values():
                kept = ", local row kept" if row._state.db == LOCAL else ""
                why = f" (with {dead[row.pk]}{kept})" if dead[row.pk] else ""
                self.stdout.write(f"  - #{row.pk} {row}{why}")


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
