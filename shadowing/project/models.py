import datetime

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class ExactJSONEncoder(DjangoJSONEncoder):
    """Django's, but times to the microsecond (Django's stops at the
    millisecond): a kept row comes back exactly as it was."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


class Tombstone(models.Model):
    """A snapshot row deleted locally: the overlay hides it."""

    model = models.CharField(max_length=100)  # "app_label.model_name"
    object_id = models.BigIntegerField()
    # Set when the row went with another one ("products.product 7": a review
    # of a deleted product), so that resetting that model brings it back too.
    cause = models.CharField(max_length=120, blank=True)
    # The local row it buried (an edit of a deleted product's review), as
    # Django serializes it: restored when the cause is reset, not lost.
    kept = models.JSONField(null=True, blank=True, encoder=ExactJSONEncoder)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "object_id"], name="one_tombstone")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.object_id} deleted locally"

    @staticmethod
    def keep(row) -> dict:
        return serializers.serialize("python", [row])[0]

    def restore(self, using: str) -> bool:
        """Save the kept row again, as it was (a raw save: no signals act),
        unless a later save made the row again (a form sent meanwhile)."""
        (row,) = serializers.deserialize("python", [self.kept])
        if type(row.object)._default_manager.using(using).filter(pk=row.object.pk):
            return False
        row.save(using=using)
        return True
