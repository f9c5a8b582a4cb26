from django.conf import settings

from .pinning import primary_down, read_from_primary, replica_for_read
from .replicas import PRIMARY


class PrimaryReplicaRouter:
    """Write to the primary; read from a replica unless the read must be fresh."""

    # Sessions are read where they are written: a stale one logs people out,
    # or keeps a deactivated user logged in.
    primary_app_labels = {"sessions"}
    # Who someone is and what they may do (password, is_active, permissions) is
    # never decided on a copy that may be behind the primary.
    security_app_labels = {"auth"}

    def db_for_read(self, model, **hints):
        """Fresh reads from the primary: sessions, auth, requests that may write,
        use_primary, transactions; the rest from a replica that holds the
        client's last write."""
        label = model._meta.app_label
        if label in self.primary_app_labels or read_from_primary():
            return PRIMARY
        # While the primary is down, an anonymous page may still show a
        # username from a replica: with no session and no write, nothing is
        # decided on it.
        if label in self.security_app_labels and not primary_down():
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
