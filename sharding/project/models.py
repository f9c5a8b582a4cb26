from django.db import models


class ShardMap(models.Model):
    """Where each logical shard lives: one row per logical shard, in ``default``.

    ``version`` grows on every change, so a process knows its cached copy is
    old; ``moving`` refuses writes while ``rebalance`` copies the shard.
    """

    logical = models.PositiveSmallIntegerField(primary_key=True)
    alias = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    moving = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"logical shard {self.logical} on {self.alias}"


class IdSequence(models.Model):
    """The last id issued for a logical shard: its millisecond and sequence."""

    logical = models.PositiveSmallIntegerField(primary_key=True)
    last_ms = models.BigIntegerField(default=0)
    sequence = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"logical shard {self.logical}: {self.last_ms} ms, #{self.sequence}"


class ShardMove(models.Model):
    """One step of ``rebalance``, recorded so that a killed run can be finished."""

    class State(models.TextChoices):
        PLANNED = "planned"
        COPIED = "copied"  # copied and verified; the map still points at source
        SWITCHED = "switched"  # the map points at target; source still has rows
        DONE = "done"  # source rows deleted

    logical = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=100)
    target = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State, default=State.PLANNED)
    rows = models.PositiveIntegerField(null=True)
    checksum = models.CharField(max_length=64, blank=True)
    # What was copied, row by row ({id: digest}): a write that reaches the
    # source afterwards is told apart from one made on the target since.
    versions = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return (
            f"logical shard {self.logical}, {self.source} → {self.target}: {self.state}"
        )


class ProductStats(models.Model):
    """The figures of one product's reviews, on the shard that holds them.

    Kept by triggers on the reviews table (``project/productstats.py``), in
    the same transaction as the write that changes them: a product page reads
    one row instead of counting a popular product's 100,000 reviews.
    """

    product_id = models.PositiveBigIntegerField(primary_key=True)
    reviews = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)  # reviews with a rating
    total = models.PositiveBigIntegerField(default=0)  # the sum of the ratings

    class Meta:
        verbose_name_plural = "product stats"

    def __str__(self) -> str:
        return f"product {self.product_id}: {self.reviews} reviews"
