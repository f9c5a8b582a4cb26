"""The overlay against an oracle, under random sequences of what happens to a
developer's database: local creates, edits and deletes of products and
reviews, resets, new snapshots taken by another process while connections stay
open, and connections closed and reopened. After every step, every answer of
the overlay (counts, whole orderings, pages shallow and deep, filters, get,
in_bulk, and the admin's changelists) is compared with the oracle: the merged
rows, computed in Python from the raw tables (snapshot rows, less the keys a
local row or a tombstone holds, plus the local rows)."""

from decimal import Decimal
from io import StringIO
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from project.deep_pages import FastOverlay
from project.models import Tombstone
from project.overlay import Overlay
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review

from .helpers import SnapshotTestCase, take_snapshot_elsewhere

LOCAL, SNAPSHOT = "default", "snapshot"
PRODUCT_ORDERS = [["name", "id"], ["-price", "id"]]
REVIEW_ORDERS = [["-created", "-id"], ["rating", "id"]]


def merged(model) -> dict:
    """The oracle: what one plain database would hold."""
    snapshot = {row.pk: row for row in model._default_manager.using(SNAPSHOT)}
    local = {row.pk: row for row in model._default_manager.using(LOCAL)}
    dead = set(
        Tombstone.objects.using(LOCAL)
        .filter(model=model._meta.label_lower)
        .values_list("object_id", flat=True)
    )
    # A local row buried with its product lives in its tombstone, not here.
    assert not dead & set(local), "a local row with a tombstone"
    rows = {key: row for key, row in snapshot.items() if key not in dead | set(local)}
    rows.update(local)
    return rows


def in_order(rows, ordering: list[str]) -> list:
    """Rows sorted as the overlay sorts them (text by code point)."""
    result = list(rows)
    for field in reversed(ordering):
        name = field.lstrip("-")
        result.sort(key=lambda row: getattr(row, name), reverse=field.startswith("-"))
    return result


def keys(rows) -> list[int]:
    return [row.pk for row in rows]


class OverlayMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        call_command("shadow_reset", "--force", stdout=StringIO())

    def visible_key(self, model, index: int) -> int | None:
        found = sorted(merged(model))
        return found[index % len(found)] if found else None

    @rule(
        name=st.sampled_from(["Anvil", "Bell", "cart", "Drum"]),
        price=st.integers(1, 40),
    )
    def add_product(self, name, price):
        Product.objects.create(name=name, price=Decimal(price))

    @rule(index=st.integers(0, 50), price=st.integers(1, 40))
    def edit_product(self, index, price):
        if (key := self.visible_key(Product, index)) is not None:
            row = Overlay(Product).get(pk=key)
            row.price = Decimal(price)
            row.save()

    @rule(index=st.integers(0, 50))
    def delete_product(self, index):
        if (key := self.visible_key(Product, index)) is not None:
            Overlay(Product).get(pk=key).delete()

    @rule(index=st.integers(0, 50))
    def delete_a_product_reviewed_here(self, index):
        """Its reviews are buried, the local rows of them kept (hidden)."""
        reviewed = Review.objects.using(LOCAL).values_list("product_id", flat=True)
        keys = sorted(set(reviewed) & set(merged(Product)))
        if keys:
            Overlay(Product).get(pk=keys[index % len(keys)]).delete()

    @rule(index=st.integers(0, 50), rating=st.integers(1, 5))
    def add_review(self, index, rating):
        if (key := self.visible_key(Product, index)) is not None:
            Review.objects.create(product_id=key, rating=rating, text="local")

    @rule(index=st.integers(0, 50), rating=st.integers(1, 5))
    def edit_review(self, index, rating):
        if (key := self.visible_key(Review, index)) is not None:
            row = Overlay(Review).get(pk=key)
            row.rating = rating
            row.save()

    @rule(index=st.integers(0, 50))
    def delete_review(self, index):
        if (key := self.visible_key(Review, index)) is not None:
            Overlay(Review).get(pk=key).delete()

    @rule()
    def reset_everything(self):
        call_command("shadow_reset", "--force", stdout=StringIO())

    @rule(label=st.sampled_from(["products.product", "reviews.review"]))
    def reset_one_model(self, label):
        """Products back: the reviews buried with them, local ones included."""
        call_command("shadow_reset", label, "--force", stdout=StringIO())

    @rule(index=st.integers(0, 50))
    def new_snapshot_from_another_process(self, index):
        """Production moves on (a review added or removed), a snapshot is
        taken elsewhere; this process's connections were opened before."""
        production = Review.objects.using("production")
        reviews = sorted(production.values_list("pk", flat=True))
        if reviews and index % 2:
            production.filter(pk=reviews[index % len(reviews)]).delete()
        else:
            product = Product.objects.using("production").order_by("pk").first()
            production.create(product_id=product.pk, rating=3, text="later")
        take_snapshot_elsewhere()

    @rule(index=st.integers(0, 50))
    def production_drops_a_review_changed_here(self, index):
        """The hard case for anything remembered about hidden rows: a review
        edited or deleted here leaves production, then a new snapshot."""
        edited = Review.objects.using(LOCAL).values_list("pk", flat=True)
        buried = Tombstone.objects.filter(model="reviews.review")
        changed = sorted({*edited, *buried.values_list("object_id", flat=True)})
        production = Review.objects.using("production")
        gone = [key for key in changed if production.filter(pk=key).exists()]
        if gone:
            production.filter(pk=gone[index % len(gone)]).delete()
            take_snapshot_elsewhere()

    @rule()
    def reopen_connections(self):
        connections[SNAPSHOT].close()
        connections[LOCAL].close()
        Product.objects.using(SNAPSHOT).count()  # opened by a plain query

    @invariant()
    def overlay_equals_oracle(self):
        """The pattern alone, and with the site's speed-ups."""
        for overlay in [Overlay, FastOverlay]:
            self.check(overlay)

    def check(self, overlay_class):
        for model, orders in [(Product, PRODUCT_ORDERS), (Review, REVIEW_ORDERS)]:
            rows = merged(model)
            assert overlay_class(model).count() == len(rows), model
            for ordering in orders:
                expected = keys(in_order(rows.values(), ordering))
                overlay = overlay_class(model).order_by(*ordering)
                assert keys(overlay) == expected, (model, ordering)
                assert keys(overlay[2:5]) == expected[2:5], (model, ordering)
                with mock.patch("project.deep_pages.DEEP_FROM", 1):  # the deep path
                    assert keys(overlay[3:6]) == expected[3:6], (model, ordering)
            some = [*sorted(rows)[:3], 424242]
            assert set(overlay_class(model).in_bulk(some)) == set(some) & set(rows)
            for key in sorted(rows)[:2]:
                assert overlay_class(model).get(pk=key).pk == key
        cheap = [r for r in merged(Product).values() if r.price < 20]
        filtered = overlay_class(Product).filter(price__lt=20).order_by("name", "id")
        assert filtered.count() == len(cheap)
        assert keys(filtered) == keys(in_order(cheap, ["name", "id"]))

    @rule()
    def admin_changelists_equal_oracle(self):
        """The admin's changelists (the site's overlay, the admin's own
        ordering with its key tie-break): count and first page. A step, not
        an invariant: a page of the admin costs a hundred overlay reads."""
        User = get_user_model()
        admin = User.objects.filter(username="machine-admin").first()
        if admin is None:  # a reset dropped it: a local row like any other
            admin = User.objects.create_superuser("machine-admin")
        client = Client()
        client.force_login(admin)
        for model, url in [(Product, "products/product"), (Review, "reviews/review")]:
            for sort in ["", "?o=-2"]:
                response = client.get(f"/admin/{url}/{sort}")
                assert response.status_code == 200, (url, sort)
                changelist = response.context["cl"]
                ordering = [str(f) for f in changelist.queryset.query.order_by]
                expected = keys(in_order(merged(model).values(), ordering))
                assert changelist.result_count == len(expected), (url, sort)
                shown = [row.pk for row in changelist.result_list]
                assert shown == expected[: changelist.list_per_page], (url, sort)


class OverlayStatefulTests(SnapshotTestCase):
    def test_the_overlay_answers_as_one_database_would(self):
        run_state_machine_as_test(
            OverlayMachine,
            settings=settings(
                # PostgreSQL: a snapshot is a new database each time, slower.
                max_examples=20 if connections[SNAPSHOT].vendor == "sqlite" else 8,
                stateful_step_count=12
                if connections[SNAPSHOT].vendor == "sqlite"
                else 8,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
