"""Reads that must be fresh: security decisions, reads that feed a write, and a
client's own writes until a replica holds them (by position, not by timer).

Every test here starts with replicas copied, then lets them fall behind the
primary on purpose (no ``replicate`` between the steps), the way they do
between two rounds of ``replicate --follow``.
"""

import threading
from datetime import timedelta

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.checks import run_checks
from django.db import connections, router, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from project.pinning import COOKIE, read_from_primary, use_primary
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import REPLICAS, ReplicatedTestCase, in_request, replicate, reviews_on

User = get_user_model()


def database_of(queryset) -> str:
    """Where the router sends this read, here and now."""
    return queryset.db


class SecurityReadsTests(ReplicatedTestCase):
    """Who someone is and what they may do is never decided on a stale copy."""

    def setUp(self):
        super().setUp()
        self.alice = User.objects.create_user("alice", "alice@old.example", "old-pw")
        replicate()  # the replicas know alice, with her old password

    def login(self, password: str) -> Client:
        client = Client()
        client.post(reverse("login"), {"username": "alice", "password": password})
        return client

    def test_users_groups_and_permissions_are_read_from_the_primary(self):
        from django.contrib.auth.models import Group, Permission

        with in_request("replica1"):
            for model in [User, Group, Permission]:
                with self.subTest(model=model._meta.label):
                    self.assertEqual(router.db_for_read(model), "default")
            self.assertEqual(router.db_for_read(Product), "replica1")  # not auth

    def test_a_deactivated_user_cannot_reactivate_herself_with_a_stale_row(self):
        """The lost update: alice's password change must not save the row a
        replica had, with is_active=True and her old email."""
        client = self.login("old-pw")
        User.objects.filter(pk=self.alice.pk).update(
            is_active=False, email="alice@new.example"
        )  # on the primary only: the replicas still say active
        client.post(
            reverse("password_change"),
            {"old_password": "old-pw", "new_password1": "n3w-pw-Secure!",
             "new_password2": "n3w-pw-Secure!"},
        )  # fmt: skip
        row = User.objects.using("default").get(pk=self.alice.pk)
        self.assertFalse(row.is_active)
        self.assertEqual(row.email, "alice@new.example")
        self.assertTrue(row.check_password("old-pw"))  # the change was refused

    def test_a_used_password_reset_link_does_not_work_twice(self):
        uid = urlsafe_base64_encode(force_bytes(self.alice.pk))
        token = default_token_generator.make_token(self.alice)
        link = reverse("password_reset_confirm", args=[uid, token])
        first = Client()
        form = first.get(link, follow=True).redirect_chain[-1][0]
        new = {"new_password1": "n3w-pw-Secure!", "new_password2": "n3w-pw-Secure!"}
        self.assertEqual(first.post(form, new).status_code, 302)  # used once
        second = Client().get(link)  # the replicas still hold the old hash
        self.assertEqual(second.status_code, 200)
        self.assertFalse(second.context["validlink"])
        self.assertTrue(
            User.objects.get(pk=self.alice.pk).check_password(new["new_password1"])
        )

    def test_login_checks_the_password_the_primary_holds(self):
        self.alice.set_password("new-pw")
        self.alice.save()  # not replicated
        self.assertIn("_auth_user_id", self.login("new-pw").session)
        self.assertNotIn("_auth_user_id", self.login("old-pw").session)

    def test_a_deactivated_user_cannot_log_in_nor_stay_logged_in(self):
        client = self.login("old-pw")
        User.objects.filter(pk=self.alice.pk).update(is_active=False)
        page = client.get(reverse("products"))
        self.assertFalse(page.context["user"].is_authenticated)
        self.assertNotIn("_auth_user_id", self.login("old-pw").session)

    def test_changing_your_password_keeps_you_logged_in_after_any_wait(self):
        client = self.login("old-pw")
        new = "n3w-pw-Secure!"
        response = client.post(
            reverse("password_change"),
            {"old_password": "old-pw", "new_password1": new, "new_password2": new},
        )
        self.assertEqual(response.status_code, 302)
        later = timezone.now() + timedelta(seconds=600)  # no replicate meanwhile
        with (
            time_machine.travel(later),
            override_settings(
                REPLICATION_MAX_LAG_SECONDS=3600, REPLICATION_PIN_SECONDS=3700
            ),
        ):
            page = client.get(reverse("products"))
        self.assertTrue(page.context["user"].is_authenticated)


class UnsafeRequestTests(ReplicatedTestCase):
    """A request that may write reads the primary from start to end."""

    def setUp(self):
        super().setUp()
        self.product = make_product()
        replicate()

    def test_a_review_of_a_product_just_deleted_is_refused(self):
        Product.objects.filter(pk=self.product.pk).delete()  # replicas still have it
        response = Client().post(
            reverse("write_review", args=[self.product.pk]),
            {"text": "Orphan?", "rating": "4"},
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(reviews_on("default", text="Orphan?"), 0)

    def test_a_post_reads_no_replica(self):
        with (
            self.assertNumQueries(0, using="replica1"),
            self.assertNumQueries(0, using="replica2"),
        ):
            response = Client().post(
                reverse("write_review", args=[self.product.pk]),
                {"text": "Fresh", "rating": "4"},
            )
        self.assertEqual(response.status_code, 302)

    def test_the_admin_reads_the_primary_under_a_url_prefix(self):
        User.objects.create_superuser("boss", "b@example.org", "pw")
        replicate()
        staff = Client()
        staff.force_login(User.objects.get(username="boss"))
        Product.objects.filter(pk=self.product.pk).update(name="Renamed meanwhile")
        listing = reverse("admin:products_product_changelist")
        with (
            self.assertNumQueries(0, using="replica1"),
            self.assertNumQueries(0, using="replica2"),
        ):
            page = staff.get(listing, SCRIPT_NAME="/shop")
        self.assertContains(page, "Renamed meanwhile")

    def test_the_form_that_checks_a_product_exists_asks_where_it_writes(self):
        from reviewsite.reviews.forms import ReviewAdminForm

        Product.objects.filter(pk=self.product.pk).delete()
        with in_request("replica1"):
            data = {"product_id": self.product.pk, "rating": 3, "text": "x",
                    "created": "2026-01-01 10:00"}  # fmt: skip
            form = ReviewAdminForm(data)
            self.assertFalse(form.is_valid())
        self.assertIn("There is no product", str(form.errors))


class PositionPinTests(ReplicatedTestCase):
    """After a write, the writer reads the primary until a replica holds the
    write: however long that takes, and not a moment longer."""

    def setUp(self):
        super().setUp()
        self.product = make_product()
        replicate()
        self.url = reverse("product", args=[self.product.pk])
        self.alice = Client()
        response = self.alice.post(
            reverse("write_review", args=[self.product.pk]),
            {"text": "Alice wrote this", "rating": "5"},
        )
        self.assertEqual(response.status_code, 302)
        self.assertIn(COOKIE, self.alice.cookies)

    def test_the_writer_sees_her_write_for_as_long_as_the_replicas_lack_it(self):
        start = timezone.now()
        for seconds in [1, 14, 16, 19, 45, 59]:
            with (
                time_machine.travel(start + timedelta(seconds=seconds)),
                self.subTest(seconds=seconds),
            ):
                page = self.alice.get(self.url)
                self.assertContains(page, "Alice wrote this")
                self.assertEqual(page.context["reads_from"], "default")
        self.assertEqual(reviews_on("replica1", text="Alice wrote this"), 0)

    def test_the_writer_is_back_on_a_replica_as_soon_as_it_has_her_write(self):
        replicate()
        with self.assertNumQueries(0, using="default"):
            page = self.alice.get(self.url)
        self.assertContains(page, "Alice wrote this")
        self.assertIn(page.context["reads_from"], REPLICAS)
        self.assertNotIn(COOKIE, page.cookies)  # nothing new to remember

    def test_a_replica_that_lacks_the_write_is_not_used_while_another_has_it(self):
        replicate("--replica", "replica2")
        self.alice.get(self.url)  # reads both replicas' positions
        with time_machine.travel(timezone.now(), tick=False):  # no re-reading
            for _ in range(6):  # the choice is random: never replica1
                with self.assertNumQueries(0, using="replica1"):
                    page = self.alice.get(self.url)
                self.assertEqual(page.context["reads_from"], "replica2")
                self.assertContains(page, "Alice wrote this")

    def test_a_pin_never_outlasts_its_bound_and_the_bound_outlasts_the_lag(self):
        from django.conf import settings

        self.assertGreaterEqual(
            settings.REPLICATION_PIN_SECONDS,
            settings.REPLICATION_MAX_LAG_SECONDS + settings.REPLICA_CHECK_SECONDS,
        )
        bound = settings.REPLICATION_PIN_SECONDS
        with time_machine.travel(timezone.now() + timedelta(seconds=bound + 1)):
            page = self.alice.get(self.url)
        # The pin is over, and no replica is usable (too far behind): the
        # primary, for the lag, not the pin.
        self.assertEqual(page.context["reads_from"], "default")
        self.assertContains(page, "No replica is usable")

    def test_a_pin_that_may_end_before_a_replica_catches_up_is_refused(self):
        with override_settings(
            REPLICATION_PIN_SECONDS=15, REPLICATION_MAX_LAG_SECONDS=60
        ):
            errors = [e.id for e in run_checks() if e.id.startswith("replication")]
        self.assertEqual(errors, ["replication.E001"])
        self.assertEqual(
            [e.id for e in run_checks() if e.id.startswith("replication")], []
        )


class OutsideRequestsTests(ReplicatedTestCase):
    """A command, a task or a thread that wrote reads its own writes too."""

    def test_code_that_wrote_reads_its_write_until_a_replica_has_it(self):
        before = make_product("Before")
        replicate()
        self.assertIn(database_of(Product.objects.all()), REPLICAS)
        product = make_product("Just written")
        found = Product.objects.filter(pk=product.pk)
        self.assertEqual(database_of(found), "default")
        self.assertTrue(found.exists())
        replicate()
        # The replicas' positions are read again a second later at most.
        with time_machine.travel(timezone.now() + timedelta(seconds=1)):
            self.assertIn(database_of(Product.objects.filter(pk=before.pk)), REPLICAS)

    def test_another_thread_that_wrote_nothing_reads_a_replica(self):
        make_product("Written here")
        seen = {}
        thread = threading.Thread(
            target=lambda: seen.update(db=database_of(Product.objects.all()))
        )
        thread.start()
        thread.join(10)
        self.assertIn(seen["db"], REPLICAS)
        self.assertEqual(database_of(Product.objects.all()), "default")

    def test_an_on_commit_callback_reads_what_was_committed(self):
        seen = []
        with transaction.atomic():
            product = make_product("Committed")
            transaction.on_commit(
                lambda: seen.append(Product.objects.filter(pk=product.pk).exists())
            )
        self.assertEqual(seen, [True])

    def test_use_primary_covers_the_body_of_a_generator_and_only_it(self):
        @use_primary()
        def pages():
            yield read_from_primary()
            yield read_from_primary()

        seen = []
        for inside in pages():
            seen.append((inside, read_from_primary()))
        self.assertEqual(seen, [(True, False), (True, False)])

    def test_a_transaction_opened_with_set_autocommit_reads_the_primary(self):
        connections["default"].ensure_connection()
        transaction.set_autocommit(False)
        try:
            self.assertEqual(database_of(Review.objects.all()), "default")
        finally:
            transaction.rollback()
            transaction.set_autocommit(True)
        self.assertIn(database_of(Review.objects.all()), REPLICAS)


class ReplacedReplicaFileTests(ReplicatedTestCase):
    """A connection that outlives a copy (a worker, a shell, CONN_MAX_AGE)
    reads the new copy, not the file it opened."""

    def test_a_long_lived_connection_reads_the_new_copy(self):
        product = make_product()
        replicate()
        requests, answers = [threading.Event(), threading.Event()], []
        done = threading.Event()

        def worker():  # one thread, one connection, kept open throughout
            for asked in requests:
                asked.wait(10)
                answers.append(reviews_on("replica1", product_id=product.pk))
                done.set()
            connections.close_all()

        thread = threading.Thread(target=worker)
        thread.start()
        requests[0].set()
        done.wait(10)
        done.clear()
        make_review(product)
        replicate()
        requests[1].set()
        thread.join(10)
        self.assertEqual(answers, [0, 1])
