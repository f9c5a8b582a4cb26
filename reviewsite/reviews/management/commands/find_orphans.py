"""``manage.py find_orphans``: reviews whose product or author is gone.

Lists them and exits with 1 when there are any, so that it can run from cron
or CI; ``--delete`` removes them (and exits with 0 once they are gone).
"""

from django.core.management.base import BaseCommand, CommandError

from reviewsite.reviews.orphans import Orphans, sweep

SHOWN = 20  # reviews listed per place; the count says the rest


class Command(BaseCommand):
    help = "List reviews whose product or author is gone (--delete removes them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--delete", action="store_true", help="Delete the orphan reviews."
        )

    def handle(self, *args, delete, **options):
        orphan_sweep = sweep()
        found = orphan_sweep.find()
        total = sum(orphans.reviews.count() for orphans in found)
        for orphans in found:
            self.list(orphans)
        if not found:
            self.stdout.write("Found no orphan reviews.")
        elif delete:
            deleted = sum(orphan_sweep.remove(orphans) for orphans in found)
            self.stdout.write(f"Done: deleted {deleted} orphan reviews.")
        else:
            raise CommandError(
                f"Found {total} orphan reviews: run with --delete to remove them.",
                returncode=1,
            )

    def list(self, orphans: Orphans) -> None:
        count = orphans.reviews.count()
        self.stdout.write(f"{orphans.place}: {count} orphan reviews")
        for review in orphans.reviews.order_by("pk")[:SHOWN]:
            lacks = []
            if review.product_id in orphans.missing_products:
                lacks.append(f"product #{review.product_id} is missing")
            if review.author_id in orphans.missing_authors:
                lacks.append(f"author #{review.author_id} is missing")
            self.stdout.write(
                f"  review {review.pk}: {', '.join(lacks)}: {review.text[:40]!r}"
            )
        if count > SHOWN:
            self.stdout.write(f"  ... and {count - SHOWN} more")
