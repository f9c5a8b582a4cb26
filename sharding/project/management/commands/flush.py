"""``manage.py flush`` on a shard: empties it also where a stopped rebalance
left a logical shard frozen or half copied.

The fence refuses to delete the reviews of such a logical shard, and Django's
flush empties the tables in no fixed order: whether the states' table went
first decided whether a flush worked. Here every state is ``moving`` for the
flush's own transaction, which the fence lets through.
"""

from django.core.management.commands import flush
from django.db import transaction

from project.apps import has_table
from project.models import LogicalShard


class Command(flush.Command):
    def handle(self, **options):
        alias = options["database"]
        if not has_table(alias, LogicalShard):
            return super().handle(**options)
        with transaction.atomic(using=alias):
            LogicalShard.objects.using(alias).update(state=LogicalShard.State.MOVING)
            return super().handle(**options)
