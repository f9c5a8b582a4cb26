from django.conf import settings

from .pinning import read_from_primary, replica_for_read
from .replicas import PRIMARY


class PrimaryReplicaRouter:
    """Write to the primary; read from a replica unless the read must be fresh."""

    # A stale session would log people out: sessions are read where written.
    primary_app_labels = {"sessions"}

    def db_for_read(self, model, **hints):
        """Fresh reads (sessions, pinned client, use_primary, transaction) from
        the primary; the rest from the replica chosen for this request."""
        if model._meta.app_label in self.primary_app_labels or read_from_primary():
            return PRIMARY
        return replica_for_read()

    def db_for_write(self, model, **hints):
        """Every write goes to the primary."""
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        """The primary and its replicas hold the same data."""
        replicated = {PRIMARY, *settings.REPLICAS}
        if {obj1._state.db, obj2._state.db} <= replicated:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        """Only the primary: replicas get schema and data by replication."""
        return db == PRIMARY
