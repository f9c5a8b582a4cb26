"""The identity is read before the rows: a new snapshot landing in between
must not file the new rows under the old identity."""

from unittest import mock

from project import hidden_rows as memo
from project.deep_pages import FastOverlay as Overlay
from reviewsite.products.models import Product
from reviewsite.testing import on_sqlite_only

from .helpers import SnapshotTestCase, take_snapshot_elsewhere


class IdentityRace(SnapshotTestCase):
    @on_sqlite_only  # elsewhere nothing is remembered
    def test_rows_are_memoized_under_the_identity_they_were_read_from(self):
        copy = Overlay(Product).get(name="Snap 0")
        copy.price += 1
        copy.save()  # a local copy: its snapshot row is hidden
        old = memo.snapshot_identity()
        Product.objects.using("production").filter(pk=copy.pk).update(name="Renamed")
        real = memo.snapshot_identity

        def identity_then_new_snapshot():
            identity = real()
            take_snapshot_elsewhere()  # lands between the identity and the rows
            return identity

        with mock.patch.object(memo, "snapshot_identity", identity_then_new_snapshot):
            Overlay(Product).order_by("name", "pk").count()
        new = memo.snapshot_identity()
        self.assertNotEqual(old, new)  # the connection now reads the new file
        stored = {
            key[0]: [row.name for row in hidden.rows]
            for key, hidden in memo.HIDDEN.items()
        }
        # Never the new snapshot's row ("Renamed") under the old identity.
        self.assertNotIn(["Renamed"], [v for k, v in stored.items() if k == old])
