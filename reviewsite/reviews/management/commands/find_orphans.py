"""``manage.py find_orphans``: reviews whose product is gone.

Lists them and exits with 1 when there are any, so that it can run from cron
or CI; ``--delete`` removes them (and exits with 0 once they are all gone).
Reviews whose author is gone are counted, and kept: the site shows them as
written by "a deleted user".
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from reviewsite.reviews.orphans import Orphans, sweep

SHOWN = 20  # reviews listed per place; the count says the rest


class Command(BaseCommand):
    help = "List reviews whose product is gone (--delete removes them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--delete", action="store_true", help="Delete the orphan reviews."
        )

    def handle(self, *args, delete, **options):
        orphan_sweep = sweep()
        left, failed = 0, []
        for orphans in orphan_sweep.find():
            count = self.report(orphans)
            if count and delete:
                try:
                    removed = orphan_sweep.remove(orphans)
                except DatabaseError as error:  # down, or refusing (a move)
                    failed.append(f"{orphans.place}: {error}")
                    left += count
                else:
                    self.stdout.write(f"  deleted {removed} orphan reviews")
            else:
                left += count
        if failed:
            raise CommandError(
                f"Could not delete in {'; '.join(failed)}. Run again later.",
                returncode=1,
            )
        if left:
            raise CommandError(
                f"Found {left} orphan reviews: run with --delete to remove them.",
                returncode=1,
            )
        self.stdout.write("No orphan reviews left.")

    def report(self, orphans: Orphans) -> int:
        """One line per place, and the first orphans; returns their count."""
        count = orphans.count()
        kept = orphans.by_deleted_users()
        if not (count or kept):
            return 0
        self.stdout.write(
            f"{orphans.place}: {count} orphan reviews; {kept} by deleted users (kept)"
        )
        shown = 0
        for batch in orphans.batches():
            for review in batch.order_by("pk")[: SHOWN - shown]:
                self.stdout.write(
                    f"  review {review.pk}: product #{review.product_id} is "
                    f"missing: {review.text[:40]!r}"
                )
                shown += 1
        if count > shown:
            self.stdout.write(f"  ... and {count - shown} more")
        return count
