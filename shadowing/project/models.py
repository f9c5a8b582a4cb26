from django.db import models


class Tombstone(models.Model):
    """A snapshot row deleted locally: the overlay hides it."""

    model = models.CharField(max_length=100)  # "app_label.model_name"
    object_id = models.BigIntegerField()
    # Set when the row went with another one ("products.product 7": a review
    # of a deleted product), so that resetting that model brings it back too.
    cause = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "object_id"], name="one_tombstone")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.object_id} deleted locally"
