"""``manage.py shadow_reset [MODEL ...]``: drop local changes, all or per model."""

from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.db.models.deletion import Collector
from django.db.models.signals import post_delete

from project.models import Tombstone
from project.overlay import LOCAL, SNAPSHOT, leave_tombstone
from reviewsite.products.models import Product


class Command(BaseCommand):
    help = (
        "Drop the local rows and tombstones of shadowed models: back to the "
        "snapshot. Says what goes first; --dry-run stops there."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "models", nargs="*", help="e.g. reviews.review; all if none"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would go; change nothing."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Reset even if reviews would be left without their product.",
        )

    def handle(self, *args, models, dry_run, force, **options):
        known = list(settings.SHADOW_MODELS)
        labels = [label.lower() for label in models] or known
        if unknown := [label for label in labels if label not in known]:
            raise CommandError(
                f"Unknown model(s) {', '.join(unknown)}; use {', '.join(known)}."
            )
        verb = "would drop" if dry_run else "dropping"
        for label in labels:
            self.stdout.write(f"{label}: {verb} {describe(label)}")
        if (orphans := orphaned_by(labels)) and not force:
            raise CommandError(
                f"This reset would leave {orphans} review(s) without their product "
                "(reset products.product and reviews.review together, or --force)."
            )
        if dry_run:
            self.stdout.write("Dry run: nothing changed.")
            return
        with transaction.atomic(using=LOCAL):
            for label in labels:
                drop_local_rows(apps.get_model(label))
                forget_deletions(label)
        self.stdout.write(f"Done: {', '.join(labels)} back to the snapshot.")


def describe(label: str) -> str:
    """The local rows of a model, what a delete of them takes along (Django's
    cascades, in the local database), and its tombstones."""
    model = apps.get_model(label)
    collector = Collector(using=LOCAL)
    with without_side_effects():
        collector.collect(model._default_manager.using(LOCAL).all())
    counts = {m._meta.label_lower: len(rows) for m, rows in collector.data.items()}
    for queryset in collector.fast_deletes:
        name = queryset.model._meta.label_lower
        counts[name] = counts.get(name, 0) + queryset.count()
    rows = counts.pop(label, 0)
    cascades = ", ".join(f"{n} {name} by cascade" for name, n in counts.items() if n)
    kept = deletions(label).filter(kept__isnull=False)
    back, gone = kept.exclude(model=label).count(), kept.filter(model=label).count()
    return (
        f"{rows} local row(s), {deletions(label).count()} deletion(s)"
        + (f"; with them {cascades}" if cascades else "")
        + (f"; {back} local review(s) kept with them come back" if back else "")
        + (f"; {gone} local review(s) kept in tombstones go too" if gone else "")
    )


def orphaned_by(labels: list[str]) -> int:
    """Reviews a reset of ``labels`` would leave without their product: those
    buried with a product that stays deleted; or, products reset alone, the
    reviews of a product the snapshot does not have (added here, or gone
    from production since), local ones and those that come back."""
    products, reviews = "products.product" in labels, "reviews.review" in labels
    if products == reviews:
        return 0
    if reviews:  # tombstones of reviews forgotten; their products stay buried
        buried = Tombstone.objects.using(LOCAL).filter(model="products.product")
        causes = [f"products.product {key}" for key in buried.values_list(
            "object_id", flat=True)]  # fmt: skip
        return deletions("reviews.review").filter(cause__in=causes).count()
    from reviewsite.reviews.models import Review

    local = Review.objects.using(LOCAL).values_list("product_id", flat=True)
    # Buried snapshot reviews come back only if the snapshot still has them,
    # and then with their product; kept local ones come back whatever.
    kept = deletions("products.product").filter(kept__isnull=False)
    of = [*local, *(int(c.split()[1]) for c in kept.values_list("cause", flat=True))]
    there = Product.objects.using(SNAPSHOT).filter(pk__in=set(of))
    there = set(there.values_list("pk", flat=True))
    return sum(1 for product_id in of if product_id not in there)


def drop_local_rows(model) -> int:
    """Delete the model's local rows, and only them (see without_side_effects)."""
    with without_side_effects():
        _, by_model = model._default_manager.using(LOCAL).all().delete()
    return by_model.get(model._meta.label, 0)


@contextmanager
def without_side_effects():
    """No tombstones for what a reset drops (nor for the reviews of a dropped
    product): resetting products must not touch reviews. A command runs in
    one thread: it may disconnect."""
    post_delete.disconnect(leave_tombstone)
    try:
        yield
    finally:
        post_delete.connect(leave_tombstone)


def deletions(label: str):
    """The model's tombstones, and those of rows that went with its rows."""
    return Tombstone.objects.using(LOCAL).filter(
        Q(model=label) | Q(cause__startswith=f"{label} ")
    )


def forget_deletions(label: str) -> int:
    """Drop the model's tombstones; the local rows that went with its rows
    (kept in their tombstones) come back as they were."""
    tombstones = deletions(label)
    for tombstone in tombstones.exclude(model=label).filter(kept__isnull=False):
        tombstone.restore(using=LOCAL)
    return tombstones.delete()[0]
