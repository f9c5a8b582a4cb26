from django.db import models


class Heartbeat(models.Model):
    """One row, written on the primary just before each copy to the replicas.

    A replica's copy of it says when that copy was taken: its lag is now minus
    that time. Real engines have their own measure (PostgreSQL's replay
    position); this one works the same on every engine.
    """

    beat = models.DateTimeField()

    def __str__(self) -> str:
        return f"Heartbeat at {self.beat:%H:%M:%S}"
