from django.db import models


class Heartbeat(models.Model):
    """One row, written on the primary just before each copy to the replicas.

    A replica's copy of it says when that copy was taken (its lag is now minus
    that time) and which copy it is: the generation counts the copies, so a
    replica holds every write committed before the stamp of its generation.
    PostgreSQL has its own measures (replay timestamp and WAL position).
    """

    beat = models.DateTimeField()
    generation = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Heartbeat at {self.beat:%H:%M:%S}"
