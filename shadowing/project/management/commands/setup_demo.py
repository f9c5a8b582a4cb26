"""``setup_demo`` for shadowing: production with data, an anonymized snapshot of
it, and a few local changes over the snapshot to show."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management import call_command

from project.models import Tombstone
from project.overlay import Overlay
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.web.management.commands.setup_demo import Command as SetupDemo


class Command(SetupDemo):
    def databases_to_migrate(self) -> list[str]:
        return ["production", "default"]  # the snapshot is a copy, never migrated

    def databases_written(self) -> list[str]:
        return ["production"]

    def flush(self) -> None:
        super().flush()
        call_command("flush", database="default", interactive=False, verbosity=0)

    def has_data(self) -> bool:
        return Product.objects.using("production").exists()

    def save_products(self, products):
        return [p.pk for p in Product.objects.using("production").bulk_create(products)]

    def save_users(self, users):
        saved = get_user_model().objects.using("production").bulk_create(users)
        return [u.pk for u in saved]

    def reviews_database(self) -> str:
        return "production"

    def after_populate(self) -> None:
        call_command("take_snapshot", stdout=self.stdout)
        if not (Product.objects.exists() or Tombstone.objects.exists()):
            self.make_local_changes()

    def make_local_changes(self) -> None:
        """An edit, an addition and a deletion over the snapshot, to look at,
        on the first page of the product list (it is sorted by name)."""
        changes = []
        if doomed := Overlay(Review).order_by("pk")[:1]:
            doomed[0].delete()  # leaves a tombstone
            changes.append("deleted one review")
        if first := Overlay(Product)[:1]:
            edited = first[0]
            edited.price = (edited.price * Decimal("0.8")).quantize(Decimal("0.01"))
            edited.name += " (on sale)"
            edited.save()  # copy-on-write: now a local row overrides the snapshot's
            changes.append(f"edited {edited}")
        added = Product.objects.create(
            name="Acme Prototype Kettle", price=Decimal("42.00"),
            description="Only in the local database.",
        )  # fmt: skip
        Review.objects.create(product_id=added.pk, rating=5, text="Local test review.")
        changes.append(f"added {added}")
        self.step(f"Local changes: {', '.join(changes)}")
