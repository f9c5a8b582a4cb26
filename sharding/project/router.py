from .shardmap import configured, shard_for


class ShardRouter:
    """Reviews, and their per-product figures, live on the shard of their
    product; everything else in ``default``."""

    sharded_app_labels = {"reviews"}
    # Kept on every shard beside its reviews, read with .using(shard): their
    # figures (productstats.py), each logical shard's state and id sequence.
    shard_local_models = {"project.productstats", "project.logicalshard"}

    def db_for_read(self, model, **hints):
        """A review is read from the shard its product, or its id, names."""
        if self.sharded(model._meta.app_label, model._meta.model_name):
            return shard_for(hints)  # no shard named: an error, never default
        return None

    def db_for_write(self, model, **hints):
        """A review is written to its product's shard (whose fence refuses the
        write if the logical shard is moving, or has moved away)."""
        if self.sharded(model._meta.app_label, model._meta.model_name):
            return shard_for(hints)
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
        shards = configured()
        if self.sharded(app_label, model_name):
            return db in shards
        if db in shards:
            return False
        return None

    def sharded(self, app_label: str, model_name: str | None) -> bool:
        """Whether the model's rows live on the shards."""
        return (
            app_label in self.sharded_app_labels
            or f"{app_label}.{model_name}" in self.shard_local_models
        )
