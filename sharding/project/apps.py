from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Sharding"

    def ready(self) -> None:
        post_migrate.connect(create_shard_map, sender=self)
        post_migrate.connect(keep_figures_counted, sender=self)


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


def keep_figures_counted(using: str, **kwargs) -> None:
    """Put the per-product figures' triggers back on a shard where a migration
    lost them (SQLite rebuilds a table to alter a column, and its triggers go
    with the old one), and count the figures afresh."""
    from django.db import connections

    from . import productstats
    from .models import ProductStats

    tables = connections[using].introspection.table_names()
    if ProductStats._meta.db_table not in tables:
        return  # not a shard, or not migrated that far
    if not productstats.installed(using):
        productstats.uninstall(using)  # what is left of them
        productstats.install(using)
