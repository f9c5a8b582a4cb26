from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Sharding"

    def ready(self) -> None:
        post_migrate.connect(create_shard_map, sender=self)


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
