from django.conf import settings

from .shardmap import shard_for


class ShardRouter:
    """Reviews, and their per-product figures, live on the shard of their
    product; everything else in ``default``."""

    sharded_app_labels = {"reviews"}
    # Kept on every shard beside the reviews they count, by triggers; read
    # with .using(shard) (project/productstats.py).
    shard_local_models = {"project.productstats"}

    def db_for_read(self, model, **hints):
        """A review is read from the shard its product, or its id, names."""
        if self.sharded(model._meta.app_label, model._meta.model_name):
            return shard_for(hints)  # no shard named: an error, never default
        return None

    def db_for_write(self, model, **hints):
        """A review is written to its product's shard, unless that shard is moving."""
        if self.sharded(model._meta.app_label, model._meta.model_name):
            return shard_for(hints, writing=True)
        return None

    def allow_relation(self, obj1, obj2, **hints):
        """Reviews relate only on one shard, and never to non-sharded rows."""
        sharded = [
            self.sharded(o._meta.app_label, o._meta.model_name) for o in (obj1, obj2)
        ]
        if sharded[0] != sharded[1]:
            return False
        if all(sharded):
            return obj1._state.db == obj2._state.db
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        """Review tables on every shard and only there; the rest in ``default``."""
        if self.sharded(app_label, model_name):
            return db in settings.SHARDS
        if db in settings.SHARDS:
            return False
        return None

    def sharded(self, app_label: str, model_name: str | None) -> bool:
        """Whether the model's rows live on the shards."""
        return (
            app_label in self.sharded_app_labels
            or f"{app_label}.{model_name}" in self.shard_local_models
        )
