"""``manage.py rebalance``: spread the logical shards evenly over settings.SHARDS.

After adding a database to SHARDS, this moves whole logical shards onto it:
copy, verify, switch the map, delete from the source. Killed at any point, a
rerun finishes the job first.
"""

from collections import Counter

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from project import rebalance
from project.models import ShardMap, ShardMove


class Command(BaseCommand):
    help = "Move logical shards so that every shard database holds an equal share."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the plan.")

    def handle(self, *args, dry_run, **options):
        if not ShardMap.objects.exists():
            raise CommandError("No shard map yet: run `manage.py setup_demo` first.")
        if not dry_run:
            for alias in settings.SHARDS:  # a new shard needs its tables first
                call_command("migrate", database=alias, verbosity=0)
        if left := rebalance.unfinished():
            self.stdout.write(f"A previous run left {len(left)} move(s) unfinished.")
            if dry_run:
                return
            rebalance.run(left, rebalance.grace_seconds(), say=self.stdout.write)
        plan = rebalance.plan(settings.SHARDS)
        self.describe(plan)
        if dry_run or not plan.moves:
            self.stdout.write("Nothing moved." if dry_run else "Balanced already.")
            return
        ShardMove.objects.bulk_create(plan.moves)
        rebalance.run(
            rebalance.unfinished(), rebalance.grace_seconds(), say=self.stdout.write
        )
        self.stdout.write(self.style.SUCCESS("Done: every review is on its new shard."))

    def describe(self, plan: rebalance.Plan) -> None:
        share = plan.rows_moved / plan.rows_total if plan.rows_total else 0.0
        self.stdout.write(
            f"Plan: move {len(plan.moves)} of {ShardMap.objects.count()} logical "
            f"shards, {plan.rows_moved:,} of {plan.rows_total:,} reviews ({share:.1%})."
        )
        pairs = Counter((move.source, move.target) for move in plan.moves)
        for (source, target), count in sorted(pairs.items()):
            self.stdout.write(f"  {count} logical shard(s) from {source} to {target}")
