"""Deletes across two databases: no transaction spans them, so the worst that
may happen is an orphan review (its product gone), never a live product that
lost its reviews; and the orphans are found, reported and removed."""

import sqlite3
import tempfile
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import OperationalError, connections, transaction
from django.test import TransactionTestCase
from django.urls import reverse

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count

User = get_user_model()


@contextmanager
def reviews_database_fails(on_call: int = 1, every_time: bool = False):
    """The ``reviews`` database refuses the ``on_call``-th DELETE (and every
    one after it, if ``every_time``), as a server that went away would."""
    deletes = []

    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("DELETE"):
            deletes.append(sql)
            if len(deletes) == on_call or (every_time and len(deletes) > on_call):
                raise OperationalError("the reviews database went away")
        return execute(sql, params, many, context)

    connections["reviews"].ensure_connection()
    with connections["reviews"].execute_wrapper(refuse):
        yield deletes


def orphan_warnings(*aliases: str) -> list[str]:
    found = checks.run_checks(databases=list(aliases), tags=[checks.Tags.database])
    return [message.id for message in found]


class CascadeTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def setUp(self):
        self.product = make_product()
        for n in range(6):
            make_review(self.product, text=f"Review {n}")

    def test_a_product_delete_that_rolls_back_keeps_every_review(self):
        pk = self.product.pk  # delete() forgets it
        with self.assertRaises(ZeroDivisionError), transaction.atomic():
            self.product.delete()
            1 / 0  # noqa: B018  # something later in the same transaction fails
        self.assertTrue(Product.objects.filter(pk=pk).exists())
        self.assertEqual(raw_count("reviews", Review, product_id=pk), 6)

    def test_reviews_go_only_once_the_product_delete_has_committed(self):
        with transaction.atomic():
            self.product.delete()
            self.assertEqual(raw_count("reviews", Review), 6)  # not yet
        self.assertEqual(raw_count("reviews", Review), 0)
        self.assertEqual(raw_count("default", Product), 0)

    def test_when_the_reviews_database_fails_the_product_is_gone_and_orphans_remain(
        self,
    ):
        with (
            self.assertLogs("reviewsite.reviews.signals", "ERROR"),
            reviews_database_fails(),
        ):
            self.product.delete()  # no exception: the product delete stands
        self.assertEqual(raw_count("default", Product), 0)
        self.assertEqual(raw_count("reviews", Review), 6)  # orphans, found below
        self.assertEqual(orphan_warnings("default", "reviews"), ["reviews.W001"])

    def test_admin_delete_selected_with_the_reviews_database_failing_midway(self):
        """3 products, the second cascade fails: every product is deleted, the
        first loses its reviews, the second's and third's stay as orphans (not
        tried: the database that failed would make each wait its timeout)."""
        admin = User.objects.create_superuser("boss", "b@example.org", "pw")
        self.client.force_login(admin)
        more = [make_product(f"P{n}") for n in range(2)]
        for product in more:
            make_review(product, text=f"Of {product.name}")
        chosen = [self.product.pk, *(p.pk for p in more)]
        with (
            self.assertLogs("reviewsite.reviews.signals", "ERROR"),
            reviews_database_fails(on_call=2),
        ):
            response = self.client.post(
                reverse("admin:products_product_changelist"),
                {"action": "delete_selected", "_selected_action": chosen,
                 "post": "yes"},
            )  # fmt: skip
        self.assertEqual(response.status_code, 302)
        self.assertEqual(raw_count("default", Product), 0)
        orphans = {r.product_id for r in Review.objects.all()}
        self.assertEqual(len(orphans), 2)
        self.assertEqual(orphan_warnings("default", "reviews"), ["reviews.W001"])

    def test_after_one_failure_the_other_deletes_of_that_commit_are_not_tried(self):
        """A locked or unreachable reviews database costs one timeout, not one
        per product deleted."""
        for n in range(9):
            make_review(make_product(f"More {n}"))
        with (
            self.assertLogs("reviewsite.reviews.signals", "ERROR") as logs,
            reviews_database_fails(every_time=True) as deletes,
        ):
            Product.objects.all().delete()
        self.assertEqual(len(deletes), 1)
        self.assertEqual(raw_count("default", Product), 0)
        self.assertEqual(raw_count("reviews", Review), 15)  # all orphans now
        self.assertIn(f"product {self.product.pk}", "\n".join(logs.output))
        later = make_product("Later")
        make_review(later, text="Of a later product")
        later.delete()  # a later commit tries again, and succeeds
        self.assertEqual(raw_count("reviews", Review, text="Of a later product"), 0)


class OrphanTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def setUp(self):
        self.kept = make_product("Kept")
        make_review(self.kept, text="Of a product that exists")
        self.author = User.objects.create_user("gone")
        make_review(self.kept, text="By a deleted user", author_id=self.author.pk)
        # What a race leaves: reviews of a product deleted in between.
        for n in [1, 2]:
            Review.objects.create(product_id=424242, text=f"Orphan {n}")
        User.objects.filter(pk=self.author.pk).delete()

    def sweep(self, *args) -> str:
        out = StringIO()
        call_command("find_orphans", *args, stdout=out)
        return out.getvalue()

    def test_the_check_runs_only_when_databases_are_named(self):
        self.assertEqual(orphan_warnings(), [])  # a plain `manage.py check`
        self.assertEqual(orphan_warnings("default", "reviews"), ["reviews.W001"])
        self.assertEqual(orphan_warnings("default"), [])  # reviews not asked for

    def test_the_command_lists_orphans_and_fails(self):
        out = StringIO()
        with self.assertRaises(CommandError) as failed:
            call_command("find_orphans", stdout=out)
        self.assertEqual(failed.exception.returncode, 1)
        self.assertIn("Found 2 orphan reviews", str(failed.exception))
        listing = out.getvalue()
        self.assertIn("product #424242 is missing", listing)
        self.assertIn("1 by deleted users (kept)", listing)
        self.assertNotIn("Of a product that exists", listing)

    def test_delete_removes_the_orphans_and_keeps_reviews_of_deleted_users(self):
        self.assertIn("deleted 2 orphan reviews", self.sweep("--delete"))
        self.assertEqual(
            set(Review.objects.values_list("text", flat=True)),
            {"Of a product that exists", "By a deleted user"},
        )
        self.assertIn("No orphan reviews left", self.sweep())  # and it passes now
        self.assertEqual(orphan_warnings("default", "reviews"), [])

    def test_more_orphans_than_sqlite_takes_parameters_in_one_query(self):
        if connections["reviews"].vendor != "sqlite":
            self.skipTest("SQLite's parameter limit")
        connections["reviews"].ensure_connection()
        limit = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
        connections["reviews"].connection.setlimit(limit, 999)
        self.addCleanup(connections["reviews"].close)
        Review.objects.bulk_create(
            Review(product_id=10**6 + n, text="Orphan") for n in range(1200)
        )
        self.assertEqual(orphan_warnings("default", "reviews"), ["reviews.W001"])
        with self.assertRaisesMessage(CommandError, "Found 1202 orphan reviews"):
            self.sweep()
        self.assertIn("deleted 1202 orphan reviews", self.sweep("--delete"))

    def test_a_database_that_cannot_be_read_is_not_reported_clean(self):
        def down(execute, sql, params, many, context):
            raise OperationalError("could not connect to server")

        with connections["reviews"].execute_wrapper(down):
            self.assertEqual(orphan_warnings("default", "reviews"), ["reviews.W002"])


class DeleteConfirmationTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def test_the_confirmation_lists_the_reviews_that_go_with_the_product(self):
        admin = User.objects.create_superuser("boss", "b@example.org", "pw")
        self.client.force_login(admin)
        product = make_product("Doomed")
        make_review(product, text="Goes with it")
        other = make_product("Stays")
        make_review(other, text="Of another product")
        url = reverse("admin:products_product_delete", args=[product.pk])
        with self.assertNumQueries(1, using="reviews"):
            page = self.client.get(url)
        self.assertContains(page, "Goes with it")
        self.assertContains(page, "1 review in reviews")
        self.assertNotContains(page, "Of another product")


class LongDeleteConfirmationTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def test_a_product_with_many_reviews_lists_the_first_hundred(self):
        admin = User.objects.create_superuser("boss", "b@example.org", "pw")
        self.client.force_login(admin)
        product = make_product("Popular")
        Review.objects.bulk_create(
            Review(product_id=product.pk, text=f"Review {n}") for n in range(105)
        )
        url = reverse("admin:products_product_delete", args=[product.pk])
        page = self.client.get(url)
        self.assertContains(page, "105 reviews in reviews")
        self.assertContains(page, "Review: <a", count=100)
        self.assertContains(page, "... and 5 more")


class FlushTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def test_setup_demo_flush_empties_both_databases_together(self):
        make_review(make_product(), text="Before the flush")
        call_command("setup_demo", "--flush", "--products", "1", "--users", "1",
                     "--reviews", "1", stdout=StringIO())  # fmt: skip
        self.assertEqual(raw_count("reviews", Review, text="Before the flush"), 0)
        self.assertEqual(raw_count("reviews", Review), 1)


class OneDatabaseAtATimeTests(TransactionTestCase):
    """What the README warns of: data commands act on one database."""

    databases = {"default", "reviews"}

    def test_flushing_default_alone_hands_old_reviews_to_new_products(self):
        call_command("flush", database="default", interactive=False, verbosity=0)
        call_command("flush", database="reviews", interactive=False, verbosity=0)
        first = make_product("First")
        make_review(first, text="About the first product")
        call_command("flush", database="default", interactive=False, verbosity=0)
        newcomer = make_product("Newcomer")
        self.assertEqual(newcomer.pk, first.pk)  # the id is handed out again
        page = self.client.get(reverse("product", args=[newcomer.pk]))
        self.assertContains(page, "About the first product")

    def test_loaddata_without_database_installs_no_review(self):
        make_review(make_product(), text="Dumped")
        dump = StringIO()
        call_command("dumpdata", "reviews", database="reviews", stdout=dump)
        Review.objects.all().delete()
        path = self.tmp_fixture(dump.getvalue())
        out = StringIO()
        call_command("loaddata", path, stdout=out)
        self.assertIn("Installed 0 object(s)", out.getvalue())
        self.assertEqual(raw_count("reviews", Review), 0)
        call_command("loaddata", path, database="reviews", stdout=StringIO())
        self.assertEqual(raw_count("reviews", Review, text="Dumped"), 1)

    def tmp_fixture(self, content: str) -> str:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        path = Path(folder.name) / "reviews.json"
        path.write_text(content)
        return str(path)
