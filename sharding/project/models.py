from django.db import models


class ShardMap(models.Model):
    """Where each logical shard lives: one row per logical shard, in ``default``.

    ``version`` grows on every change, so a process knows its cached copy is
    old. Whether a logical shard takes writes is not here but on its shard
    (``LogicalShard``): a write never reads ``default``.
    """

    logical = models.PositiveSmallIntegerField(primary_key=True)
    alias = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"logical shard {self.logical} on {self.alias}"


class LogicalShard(models.Model):
    """A logical shard as its shard database holds it: on every shard, one row
    per logical shard it holds or is receiving.

    The shard's own fence: triggers on the reviews table refuse any write to
    a logical shard whose row here is not ``owned`` (``project/fence.py``), so
    a move freezes writers on the very database they write to. And its id
    sequence, which moves with it: issuing an id reads no other database.
    """

    class State(models.TextChoices):
        OWNED = "owned"  # takes writes
        FROZEN = "frozen"  # being moved away: writes refused until the switch
        INCOMING = "incoming"  # a verified copy, not yet switched to
        # Only inside rebalance's own transactions, never seen committed: the
        # fence lets that transaction copy or delete the logical shard's rows.
        MOVING = "moving"

    logical = models.PositiveSmallIntegerField(primary_key=True)
    state = models.CharField(max_length=10, choices=State, default=State.OWNED)
    # The epoch of the rebalance run that last froze or copied it (a fencing
    # token): a run that lost its lease, and woke up late, can no longer
    # freeze, thaw, open or delete what a later run holds.
    epoch = models.PositiveIntegerField(default=0)
    last_ms = models.BigIntegerField(default=0)  # of the last id issued
    sequence = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"logical shard {self.logical}: {self.state}"


class ShardMove(models.Model):
    """One logical shard's move, recorded in ``default`` before each step that
    changes another database, so that a stopped run can be finished."""

    class State(models.TextChoices):
        PLANNED = "planned"  # the source may be frozen, the target half copied
        COPIED = "copied"  # copied and verified; the map still points at source
        SWITCHED = "switched"  # the map points at target; source still has rows
        DELETING = "deleting"  # the source's rows are being deleted
        DONE = "done"  # source rows deleted, or another move did it first

    logical = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=100)
    target = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State, default=State.PLANNED)
    rows = models.PositiveIntegerField(null=True)
    checksum = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return (
            f"logical shard {self.logical}, {self.source} → {self.target}: {self.state}"
        )


class RebalanceLease(models.Model):
    """The one `rebalance` allowed to run: a single row in ``default``.

    ``expires`` is in the database's clock, never a process's. A run renews it
    at every step; another run may take it once it has expired, or at once
    when its owner is a process of this machine that no longer exists.
    ``epoch`` numbers the runs: each marks what it freezes with its own.
    """

    name = models.CharField(max_length=20, primary_key=True, default="rebalance")
    owner = models.CharField(max_length=200, blank=True)
    expires = models.DateTimeField(null=True)
    epoch = models.PositiveIntegerField(default=0)  # grows with every run

    def __str__(self) -> str:
        return f"{self.name}: {self.owner or 'free'} until {self.expires}"


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
