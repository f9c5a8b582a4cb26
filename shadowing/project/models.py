from django.db import models


class Tombstone(models.Model):
    """A snapshot row deleted locally: the overlay hides it."""

    model = models.CharField(max_length=100)  # "app_label.model_name"
    object_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "object_id"], name="one_tombstone")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.object_id} deleted locally"
