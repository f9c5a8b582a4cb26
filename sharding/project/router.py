from django.conf import settings

from .shardmap import shard_for


class ShardRouter:
    """Reviews live on the shard of their product; everything else in ``default``."""

    sharded_app_labels = {"reviews"}

    def db_for_read(self, model, **hints):
        """A review is read from the shard its product, or its id, names."""
        if model._meta.app_label in self.sharded_app_labels:
            return shard_for(hints)  # no shard named: an error, never default
        return None

    def db_for_write(self, model, **hints):
        """A review is written to its product's shard, unless that shard is moving."""
        if model._meta.app_label in self.sharded_app_labels:
            return shard_for(hints, writing=True)
        return None

    def allow_relation(self, obj1, obj2, **hints):
        """Reviews relate only on one shard, and never to non-sharded rows."""
        sharded = [o._meta.app_label in self.sharded_app_labels for o in (obj1, obj2)]
        if sharded[0] != sharded[1]:
            return False
        if all(sharded):
            return obj1._state.db == obj2._state.db
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        """Review tables on every shard and only there; the rest in ``default``."""
        if app_label in self.sharded_app_labels:
            return db in settings.SHARDS
        if db in settings.SHARDS:
            return False
        return None
