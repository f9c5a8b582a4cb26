"""``manage.py shadow_status``: what the local database changes, model by model."""

import datetime

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
            changes.append(f"{field.name}: {shown(old, new)}")
    return "; ".join(changes) or "saved locally, no field differs"


SHOWN = 37  # characters of a long value shown, around where the two differ
CONTEXT = 20  # of them, before that place


def shown(old, new) -> str:
    """``old -> new``, long values cut at the same place in both, so that the
    place where they differ is shown: two values that differ never look alike
    (the first cut kept the first characters, the same in both)."""
    before, after = text(old), text(new)
    if max(len(before), len(after)) <= SHOWN + 3:
        return f"{before} -> {after}"
    same = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
        min(len(before), len(after)),
    )
    start = same - CONTEXT if same + CONTEXT > SHOWN else 0
    return f"{cut(before, start)} -> {cut(after, start)}"


def text(value) -> str:
    """Times as ISO 8601, to the microsecond; anything else as its repr."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return repr(value)


def cut(value: str, start: int) -> str:
    end = start + SHOWN
    before, after = "..." if start else "", "..." if end < len(value) else ""
    return before + value[start:end] + after
