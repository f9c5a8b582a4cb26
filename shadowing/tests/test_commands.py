"""take_snapshot anonymizes, shadow_status tells, shadow_reset undoes, setup_demo
builds it all."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management import CommandError
from django.test import override_settings
from django.utils import timezone

from project.management.commands.shadow_status import diff
from project.management.commands.take_snapshot import sqlite_file
from project.models import Tombstone
from project.overlay import Overlay
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import on_sqlite_only, raw_count

from .helpers import SnapshotTestCase, run, snapshot_sha256


class TakeSnapshotTests(SnapshotTestCase):
    def make_people(self):
        Product.objects.using("production").create(name="Copied", price=Decimal("1"))
        User = get_user_model()
        User.objects.using("production").bulk_create(
            User(username=f"real{n}", email=f"real{n}@mail.example", first_name="Ada",
                 last_name="Lovelace", password="pbkdf2_sha256$1$salt$hash")
            for n in range(3)
        )  # fmt: skip

    def snapshot_people(self):
        User = get_user_model()
        return list(User.objects.using("snapshot").order_by("pk").values_list(
            "username", "email", "first_name", "last_name", "password"))  # fmt: skip

    def test_personal_data_is_replaced_and_passwords_unusable(self):
        self.make_people()
        self.assertIn("no original email left", run("take_snapshot", "--seed", "1"))
        people = self.snapshot_people()
        self.assertEqual(len(people), 3)
        for username, email, first, last, password in people:
            self.assertNotIn("real", username + email)
            self.assertTrue(email.endswith("@example.invalid"))
            self.assertNotEqual((first, last), ("Ada", "Lovelace"))
            self.assertTrue(password.startswith("!"))  # unusable
        self.assertEqual(raw_count("snapshot", Product, name="Copied"), 1)

    def test_personal_values_in_free_text_become_that_users_pseudonym(self):
        """A review signed with a real name and username, an email in a
        product's description: replaced, by the same pseudonym as the user's
        row, on either engine."""
        self.make_people()
        User = get_user_model()
        real0 = User.objects.using("production").get(username="real0")
        product = Product.objects.using("production").get(name="Copied")
        product.description = "Questions to real1@mail.example, please."
        product.save(using="production")
        Review.objects.using("production").create(
            product_id=product.pk,
            author_id=real0.pk,
            text="Ada Lovelace (real0) says: fine.",
        )
        self.addCleanup(Review.objects.using("production").all().delete)
        run("take_snapshot", "--seed", "1")
        pseudonym = User.objects.using("snapshot").get(pk=real0.pk)
        review = Review.objects.using("snapshot").get(author_id=real0.pk)
        name = f"{pseudonym.first_name} {pseudonym.last_name}"
        self.assertEqual(review.text, f"{name} ({pseudonym.username}) says: fine.")
        real1 = User.objects.using("production").get(username="real1")
        described = Product.objects.using("snapshot").get(pk=product.pk).description
        self.assertEqual(
            described, f"Questions to reviewer{real1.pk}@example.invalid, please."
        )

    def test_staff_flags_and_the_day_joined_are_not_kept(self):
        self.make_people()
        User = get_user_model()
        User.objects.using("production").filter(username="real2").update(
            is_staff=True, is_superuser=True
        )
        run("take_snapshot")
        snapshot = User.objects.using("snapshot")
        self.assertFalse(snapshot.filter(is_staff=True).exists())
        self.assertFalse(snapshot.filter(is_superuser=True).exists())
        self.assertEqual({u.date_joined.day for u in snapshot.all()}, {1})

    def test_a_personal_value_left_in_free_text_stops_the_snapshot(self):
        from unittest import mock

        self.make_people()
        Review.objects.using("production").create(
            product_id=Product.objects.using("production").get(name="Copied").pk,
            text="Hi, I am real2.",
        )
        self.addCleanup(Review.objects.using("production").all().delete)
        before = snapshot_sha256()
        with (
            mock.patch("project.anonymize.scrub_text"),
            self.assertRaisesMessage(CommandError, "personal value(s) of production"),
        ):
            run("take_snapshot")
        self.assertEqual(snapshot_sha256(), before)  # the old snapshot stays

    def test_the_same_seed_gives_the_same_names(self):
        self.make_people()
        run("take_snapshot", "--seed", "1")
        first = [row[:4] for row in self.snapshot_people()]
        run("take_snapshot", "--seed", "1")
        self.assertEqual([row[:4] for row in self.snapshot_people()], first)
        run("take_snapshot", "--seed", "2")
        self.assertNotEqual([row[:4] for row in self.snapshot_people()], first)

    def test_an_email_that_survives_anonymization_stops_the_snapshot(self):
        from unittest import mock

        self.make_people()
        before = snapshot_sha256()
        with (
            mock.patch("project.management.commands.take_snapshot.anonymize"),
            self.assertRaisesMessage(CommandError, "remain in the snapshot"),
        ):
            run("take_snapshot")
        self.assertEqual(snapshot_sha256(), before)  # the old snapshot stays

    def test_emails_are_found_in_any_bytes_as_a_substring_search_finds_them(self):
        from project.management.commands.take_snapshot import emails_in

        data = b"\x00real0real0@mail.example\x17bob@x.org..alice@x.orgz @x.org"
        emails = {f"real{n}@mail.example" for n in range(5000)}
        emails |= {"bob@x.org", "alice@x.org", "carol@x.org", "0@mail.example"}
        found = emails_in(data, emails)
        self.assertEqual(found, {email for email in emails if email.encode() in data})
        self.assertEqual(
            found, {"real0@mail.example", "0@mail.example", "bob@x.org", "alice@x.org"}
        )

    @on_sqlite_only  # a file's bytes
    def test_the_same_production_and_seed_give_the_same_file(self):
        self.make_people()
        run("take_snapshot", "--seed", "1")
        first = snapshot_sha256()
        run("take_snapshot", "--seed", "1")
        self.assertEqual(snapshot_sha256(), first)
        snapshot = sqlite_file("snapshot")  # in a folder other runs share
        drafts = snapshot.parent.glob(snapshot.name + ".*.draft")
        self.assertEqual(list(drafts), [])  # no copy left behind

    @on_sqlite_only  # a file's bytes
    def test_no_personal_data_is_left_anywhere_in_the_file(self):
        self.make_people()
        run("take_snapshot")
        data = sqlite_file("snapshot").read_bytes()
        for value in [b"@mail.example", b"Lovelace", b"pbkdf2_sha256$1$salt"]:
            self.assertNotIn(value, data)  # not in a row, nor in a free page

    @on_sqlite_only
    def test_only_the_snapshots_own_sidecar_files_are_removed(self):
        snapshot = sqlite_file("snapshot")
        backup = snapshot.with_name(snapshot.name + "-before-upgrade")
        journal = snapshot.with_name(snapshot.name + "-journal")
        backup.write_bytes(b"a backup someone made")
        journal.write_bytes(b"left by a crash")
        self.addCleanup(backup.unlink, missing_ok=True)
        run("take_snapshot")
        self.assertEqual(backup.read_bytes(), b"a backup someone made")
        self.assertFalse(journal.exists())

    def test_a_production_key_in_the_local_range_stops_the_snapshot(self):
        self.make_people()  # rows of its own: an earlier test's are flushed
        before = snapshot_sha256()
        top = Product.objects.using("production").order_by("-pk")[0].pk
        with (
            override_settings(LOCAL_ID_START=top),
            self.assertRaisesMessage(CommandError, f"has key {top} in production"),
        ):
            run("take_snapshot")
        self.assertEqual(snapshot_sha256(), before)


class StatusAndResetTests(SnapshotTestCase):
    def change_things(self):
        product = Overlay(Product).get(name="Snap 0")
        product.price = Decimal("7.00")
        product.save()
        Product.objects.create(name="Brand new", price=Decimal("3"))
        Overlay(Review).order_by("pk")[0].delete()

    def test_status_lists_additions_changes_and_deletions_with_a_diff(self):
        self.change_things()
        out = run("shadow_status")
        self.assertIn(
            "products.product (augmented): 1 added, 1 changed, 0 deleted", out
        )
        self.assertRegex(out, r"\+ #10000000\d\d Brand new")
        self.assertIn("price: Decimal('10.00') -> Decimal('7.00')", out)
        self.assertIn("reviews.review (augmented): 0 added, 0 changed, 1 deleted", out)

    def test_status_never_shows_two_different_values_alike(self):
        product = Overlay(Product).get(name="Snap 0")
        before = product.created
        product.created = before.replace(microsecond=(before.microsecond + 1) % 10**6)
        product.save()
        change = run("shadow_status").split(f"~ #{product.pk} Snap 0: ")[1]
        old, new = change.splitlines()[0].removeprefix("created: ").split(" -> ")
        self.assertNotEqual(old, new)
        self.assertIn(before.isoformat(), old)

    def test_status_shows_where_two_long_values_differ(self):
        start = "A kettle that boils water quickly and quietly, "
        same = {"name": "Kettle", "price": 1, "created": timezone.now()}
        before = Product(**same, description=start + "in steel.")
        after = Product(**same, description=start + "in glass.")
        self.assertEqual(
            diff(before, after),
            "description: ...kly and quietly, in steel.' -> "
            "...kly and quietly, in glass.'",
        )

    def test_reset_one_model_then_all(self):
        self.change_things()
        run("shadow_reset", "reviews.review")
        self.assertEqual(Overlay(Review).count(), 12)
        self.assertEqual(Overlay(Product).count(), 7)  # products untouched
        run("shadow_reset")
        self.assertEqual(Overlay(Product).count(), 6)
        self.assertEqual(Overlay(Product).get(name="Snap 0").price, Decimal("10"))
        self.assertFalse(Tombstone.objects.exists())
        self.assertEqual(raw_count("default", Product), 0)

    def test_resetting_products_leaves_local_reviews_alone(self):
        product = Overlay(Product).get(name="Snap 0")
        product.price = Decimal("7.00")
        product.save()
        Review.objects.create(product_id=product.pk, text="Mine")
        run("shadow_reset", "Products.Product")
        self.assertEqual(raw_count("default", Product), 0)
        self.assertEqual(raw_count("default", Review, text="Mine"), 1)

    def test_resetting_products_brings_back_the_reviews_of_a_deleted_one(self):
        product = Overlay(Product).get(name="Snap 1")
        key = product.pk
        product.delete()
        self.assertFalse(Overlay(Review).filter(product_id=key).exists())
        run("shadow_reset", "products.product")
        self.assertEqual(Overlay(Review).filter(product_id=key).count(), 2)
        self.assertFalse(Tombstone.objects.exists())

    def test_a_deleted_products_local_reviews_are_buried_and_come_back(self):
        """Deleting a product buries its reviews, the local ones too: an edit of
        a snapshot review and a review written here are hidden, not lost, and
        come back, as they were, when products are reset."""
        product = Overlay(Product).get(name="Snap 1")
        key = product.pk
        edited = Overlay(Review).filter(product_id=key).order_by("pk")[0]
        edited.text = "Edited here"
        edited.save()
        mine = Review.objects.create(product_id=key, text="Written here")
        product.delete()
        self.assertFalse(Overlay(Review).filter(product_id=key).exists())
        self.assertEqual(Overlay(Review).filter(pk__in=[edited.pk, mine.pk]).count(), 0)
        self.assertEqual(Overlay(Review).in_bulk([edited.pk, mine.pk]), {})
        kept = Tombstone.objects.filter(kept__isnull=False)  # in their tombstones
        self.assertEqual(
            sorted(kept.values_list("object_id", flat=True)), [edited.pk, mine.pk]
        )
        self.assertEqual(raw_count("default", Review, product_id=key), 0)
        status = run("shadow_status")
        self.assertIn(
            "reviews.review (augmented): 0 added, 0 changed, 3 deleted", status
        )
        self.assertIn(f"products.product {key}, local row kept", status)
        run("shadow_reset", "products.product")
        back = {r.pk: r.text for r in Overlay(Review).filter(product_id=key)}
        self.assertEqual(len(back), 3)
        self.assertEqual(back[edited.pk], "Edited here")
        self.assertEqual(back[mine.pk], "Written here")

    def test_a_dry_run_lists_rows_tombstones_and_cascades_and_changes_nothing(self):
        from django.contrib.admin.models import CHANGE, LogEntry

        User = get_user_model()
        local = User.objects.create_user("local-admin")
        LogEntry.objects.create(user=local, action_flag=CHANGE, object_repr="x")
        out = run("shadow_reset", "auth.user", "--dry-run")
        self.assertIn("auth.user: would drop 1 local row(s)", out)
        self.assertIn("1 admin.logentry by cascade", out)
        self.assertIn("Dry run: nothing changed.", out)
        self.assertTrue(User.objects.filter(pk=local.pk).exists())
        self.assertEqual(LogEntry.objects.count(), 1)
        out = run("shadow_reset", "auth.user")
        self.assertIn("1 admin.logentry by cascade", out)
        self.assertEqual(LogEntry.objects.count(), 0)

    def test_resetting_reviews_while_their_product_is_deleted_needs_force(self):
        product = Overlay(Product).get(name="Snap 1")
        key = product.pk
        product.delete()  # it and its two reviews are buried
        with self.assertRaisesMessage(
            CommandError, "2 review(s) without their product"
        ):
            run("shadow_reset", "reviews.review")
        self.assertFalse(Overlay(Review).filter(product_id=key).exists())  # as it was
        run("shadow_reset", "reviews.review", "--force")
        self.assertEqual(Overlay(Review).filter(product_id=key).count(), 2)

    def test_dropping_a_local_product_with_local_reviews_needs_force(self):
        added = Product.objects.create(name="Brand new", price=Decimal("3"))
        Review.objects.create(product_id=added.pk, text="Of the new one")
        with self.assertRaisesMessage(
            CommandError, "1 review(s) without their product"
        ):
            run("shadow_reset", "products.product")
        self.assertTrue(Product.objects.filter(pk=added.pk).exists())
        run("shadow_reset", "products.product", "reviews.review")  # both: fine

    def test_reset_refuses_an_unknown_model(self):
        with self.assertRaisesMessage(CommandError, "Unknown model(s) shop.thing"):
            run("shadow_reset", "shop.thing")


class SetupDemoTests(SnapshotTestCase):
    def test_an_empty_production_is_fine(self):
        out = run("setup_demo", "--flush", "--products", "0", "--reviews", "0")
        self.assertIn("Local changes: added Acme Prototype Kettle", out)
        self.assertEqual(Overlay(Review).count(), 1)

    def test_builds_production_a_snapshot_and_local_changes(self):
        out = run("setup_demo", "--flush", "--products", "5", "--reviews", "30")
        self.assertEqual(raw_count("production", Review), 30)
        self.assertEqual(raw_count("snapshot", Review), 30)
        self.assertIn("Local changes:", out)
        status = run("shadow_status")
        self.assertIn("1 added, 1 changed", status)
        self.assertIn("1 deleted", status)
        self.assertEqual(Overlay(Review).count(), 30)  # one added, one deleted
        again = run("setup_demo", "--products", "5", "--reviews", "30")
        self.assertIn("already there", again)
        self.assertEqual(raw_count("production", Review), 30)
