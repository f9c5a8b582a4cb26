import json

from django.core import serializers
from django.db import models


class Tombstone(models.Model):
    """A snapshot row deleted locally: the overlay hides it."""

    model = models.CharField(max_length=100)  # "app_label.model_name"
    object_id = models.BigIntegerField()
    # Set when the row went with another one ("products.product 7": a review
    # of a deleted product), so that resetting that model brings it back too.
    cause = models.CharField(max_length=120, blank=True)
    # The local row it buried (an edit of a deleted product's review), as
    # Django serializes it: restored when the cause is reset, not lost.
    kept = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "object_id"], name="one_tombstone")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.object_id} deleted locally"

    @staticmethod
    def keep(row) -> dict:
        return json.loads(serializers.serialize("json", [row]))[0]

    def restore(self, using: str) -> None:
        """Save the kept row again, as it was (a raw save: no signals act)."""
        (row,) = serializers.deserialize("json", json.dumps([self.kept]))
        row.save(using=using)
