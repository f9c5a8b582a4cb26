"""What every database holds, for a test in another process to compare row by
row (as Vitess' VDiff compares source and target after a move): run with
``manage.py shell -c "from tests.vdiff import report; report()"``."""

import json

from django.conf import settings
from django.db import connections

from project.models import LogicalShard, ShardMap, ShardMove
from project.rebalance import LOGICAL_OF_ID
from reviewsite.reviews.models import Review


def report() -> None:
    print(json.dumps(state()))


def state() -> dict:
    reviews, held = [], []
    for alias in settings.SHARDS + settings.DRAINING_SHARDS:
        table = connections[alias].ops.quote_name(Review._meta.db_table)
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT id, {LOGICAL_OF_ID}, text FROM {table}")
            reviews += [[i, n, alias, text] for i, n, text in cursor.fetchall()]
        held += [
            [n, alias, state]
            for n, state in LogicalShard.objects.using(alias).values_list(
                "logical", "state"
            )
        ]
    return {
        "reviews": reviews,
        "held": held,
        "map": dict(ShardMap.objects.values_list("logical", "alias")),
        "unfinished": ShardMove.objects.exclude(state="done").count(),
    }
