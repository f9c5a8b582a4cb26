"""``manage.py rebalance``: spread the logical shards evenly over settings.SHARDS.

After adding a database to SHARDS (``SHARD_DATABASES=5``), this moves whole
logical shards onto it; from those in DRAINING_SHARDS (``SHARD_DATABASES=4``
after 5), it moves every logical shard off them. Copy, verify, switch the
map, delete from the source. Stopped at any point, a rerun finishes the job
first. One run at a time.
"""

from collections import Counter

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor

from project import rebalance, shardmap
from project.lease import Lease, LeaseHeld
from project.models import ShardMap, ShardMove


def unapplied_migrations(alias: str) -> list:
    executor = MigrationExecutor(connections[alias])
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


class Command(BaseCommand):
    help = "Move logical shards so that every shard database holds an equal share."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the plan.")

    def handle(self, *args, dry_run, **options):
        if not ShardMap.objects.exists():
            raise CommandError("No shard map yet: run `manage.py setup_demo` first.")
        try:  # every database the map names must be reachable, to move from
            shardmap.check_configured(ShardMap.objects.values_list("alias", flat=True))
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        if dry_run:
            return self.describe_plan()
        lease = Lease()
        try:
            lease.acquire()
        except LeaseHeld as held:
            raise CommandError(str(held)) from None
        try:
            self.move_logical_shards(lease)
        except Exception:
            lease.release()  # what it froze is thawed; the next run goes on
            raise
        lease.release()

    def move_logical_shards(self, lease: Lease) -> None:
        for alias in settings.SHARDS:  # a new shard needs its tables first
            if unapplied_migrations(alias):
                call_command("migrate", database=alias, verbosity=0)
        if left := rebalance.unfinished():
            self.stdout.write(f"A previous run left {len(left)} move(s) unfinished.")
            rebalance.run(left, lease, self.stdout.write)
        plan = rebalance.plan(settings.SHARDS)
        self.describe(plan)
        if plan.moves:
            with transaction.atomic(using="default"):
                lease.renew()  # a run that lost the lease records nothing
                ShardMove.objects.bulk_create(plan.moves)
            moves = rebalance.unfinished()
            rebalance.run(moves, lease, self.stdout.write)
            self.stdout.write(
                self.style.SUCCESS("Done: every review is on its new shard.")
            )
        else:
            self.stdout.write("Balanced already.")
        if settings.DRAINING_SHARDS:
            drained = ", ".join(settings.DRAINING_SHARDS)
            self.stdout.write(
                f"{drained} hold(s) nothing now: delete them (their files, or "
                "their DATABASE_URL_SHARD<n>) when you like."
            )

    def describe_plan(self) -> None:
        if left := rebalance.unfinished():
            self.stdout.write(f"A previous run left {len(left)} move(s) unfinished.")
            return
        self.describe(rebalance.plan(settings.SHARDS))
        self.stdout.write("Nothing moved.")

    def describe(self, plan: rebalance.Plan) -> None:
        share = plan.rows_moved / plan.rows_total if plan.rows_total else 0.0
        self.stdout.write(
            f"Plan: move {len(plan.moves)} of {ShardMap.objects.count()} logical "
            f"shards, {plan.rows_moved:,} of {plan.rows_total:,} reviews ({share:.1%})."
        )
        pairs = Counter((move.source, move.target) for move in plan.moves)
        for (source, target), count in sorted(pairs.items()):
            self.stdout.write(f"  {count} logical shard(s) from {source} to {target}")
