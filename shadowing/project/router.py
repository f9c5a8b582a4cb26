class ShadowRouter:
    """Everything is read and written locally; the snapshot is only ever read,
    by the overlay, and never migrated: it is a copy of production."""

    snapshot = "snapshot"
    production = "production"

    def db_for_read(self, model, **hints):
        """Local by default: the overlay adds snapshot rows where settings say."""
        return "default"

    def db_for_write(self, model, **hints):
        """Every write is local, also for a row read from the snapshot
        (copy-on-write: saving it makes its local copy)."""
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        """Rows of the snapshot and the local database are one data set."""
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        """Local and production get every table; the snapshot none (it is a copy)."""
        if db == self.snapshot:
            return False
        if db == self.production:
            return app_label != "project"  # tombstones are a local affair
        return None
