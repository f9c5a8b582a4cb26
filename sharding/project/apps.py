from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_delete


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Sharding"

    def ready(self) -> None:
        from . import timeouts  # noqa: F401  (page reads give up in time)

        post_migrate.connect(create_shard_map, sender=self)
        post_migrate.connect(hold_logical_shards, sender=self)
        post_migrate.connect(keep_triggers, sender=self)
        pre_delete.connect(refuse_while_reviews_move, sender="products.Product")


def refuse_while_reviews_move(sender, instance, **kwargs) -> None:
    """A product's reviews are deleted once its own delete has committed
    (reviewsite/reviews/signals.py): while its logical shard is moving, that
    would be refused and leave them behind, so the product's delete is
    refused first (503, try again). A move that starts in between leaves
    orphans, which ``find_orphans`` removes."""
    from .models import LogicalShard
    from .shardmap import ShardMoving, alias_of, logical_shard

    logical = logical_shard(instance.pk)
    state = (
        LogicalShard.objects.using(alias_of(logical))
        .filter(logical=logical)
        .values_list("state", flat=True)
        .first()
    )
    if state != LogicalShard.State.OWNED:
        raise ShardMoving(f"The reviews of product {instance.pk} are being moved.")


def create_shard_map(using: str, **kwargs) -> None:
    """Deal the logical shards over settings.SHARDS, once: after migrate on
    ``default`` and after a flush of it (both send post_migrate)."""
    from django.conf import settings

    from . import shardmap
    from .models import ShardMap

    if using != "default" or ShardMap.objects.using(using).exists():
        return
    mapping = shardmap.initial_map(settings.SHARDS)
    ShardMap.objects.using(using).bulk_create(
        ShardMap(logical=n, alias=alias) for n, alias in mapping.items()
    )
    shardmap.forget()


def hold_logical_shards(using: str, **kwargs) -> None:
    """On a shard: a row, taking writes, for each logical shard the map gives
    it and it holds no row for (a new or flushed shard). Its ids go on from
    the newest review there, or from now."""
    from . import ids, rebalance
    from .models import LogicalShard, ShardMap

    if not has_table(using, LogicalShard):
        return  # not a shard, or not migrated that far
    if not has_table("default", ShardMap):
        return  # default is migrated first; this runs again after
    given = ShardMap.objects.using("default").filter(alias=using)
    have = set(LogicalShard.objects.using(using).values_list("logical", flat=True))
    newest, now = rebalance.newest_per_logical(using), ids.now_ms()
    LogicalShard.objects.using(using).bulk_create(
        LogicalShard(logical=n, last_ms=max(now, ids.decode(newest.get(n, 0))[0]))
        for n in given.values_list("logical", flat=True)
        if n not in have
    )


def keep_triggers(using: str, **kwargs) -> None:
    """Put the fence's and the figures' triggers back on a shard where a
    migration lost them (SQLite rebuilds a table to alter a column, and its
    triggers go with the old one), and count the figures afresh."""
    from . import fence, productstats
    from .models import LogicalShard

    if not has_table(using, LogicalShard):
        return  # not a shard, or not migrated that far
    if not fence.installed(using):
        fence.uninstall(using)  # what is left of them
        fence.install(using)
    if not productstats.installed(using):
        productstats.uninstall(using)
        productstats.install(using)


def has_table(alias: str, model) -> bool:
    from django.db import connections

    return model._meta.db_table in connections[alias].introspection.table_names()
