"""``setup_demo``: rows per database, idempotency, bad input, all or nothing."""

from io import StringIO
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import TransactionTestCase

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import raw_count, table_exists
from reviewsite.web.management.commands.setup_demo import Command as SetupDemo

SMALL = ["--products", "5", "--users", "3", "--reviews", "60"]


def setup_demo(*args: str) -> str:
    out = StringIO()
    call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


class SetupDemoTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def assert_rows(self, products, users, reviews):
        User = get_user_model()
        self.assertEqual(raw_count("default", Product), products)
        self.assertEqual(raw_count("default", User), users)
        self.assertEqual(raw_count("reviews", Review), reviews)
        # ...and nothing in the wrong database.
        self.assertFalse(table_exists("default", Review))
        self.assertFalse(table_exists("reviews", Product))
        self.assertFalse(table_exists("reviews", User))

    def test_fills_each_database_and_reports_its_rows(self):
        out = setup_demo(*SMALL)
        self.assert_rows(products=5, users=4, reviews=60)  # 3 reviewers + admin
        self.assertIn("default      5 products, 4 users", out)
        self.assertIn("reviews      60 reviews", out)
        self.assertIn("admin / admin", out)

    def test_every_review_points_at_a_product_and_a_user_that_exist(self):
        setup_demo(*SMALL)
        product_ids = set(Product.objects.values_list("pk", flat=True))
        user_ids = set(get_user_model().objects.values_list("pk", flat=True))
        for product_id, author_id in Review.objects.values_list(
            "product_id", "author_id"
        ):
            self.assertIn(product_id, product_ids)
            self.assertIn(author_id, user_ids | {None})

    def test_second_run_neither_duplicates_nor_fails(self):
        setup_demo(*SMALL)
        out = setup_demo(*SMALL)
        self.assertIn("already there", out)
        self.assert_rows(products=5, users=4, reviews=60)

    def test_flush_starts_over(self):
        setup_demo(*SMALL)
        setup_demo("--flush", "--products", "2", "--users", "1", "--reviews", "7")
        self.assert_rows(products=2, users=2, reviews=7)
        self.assertTrue(get_user_model().objects.filter(username="admin").exists())

    def test_same_seed_same_data_other_seed_other_data(self):
        def texts(*seed):
            setup_demo("--flush", *SMALL, *seed)
            return list(Review.objects.order_by("id").values_list("text", flat=True))

        self.assertEqual(texts("--seed", "7"), texts("--seed", "7"))
        self.assertNotEqual(texts("--seed", "7"), texts("--seed", "8"))

    def test_bad_arguments_are_refused_before_anything_is_written(self):
        bad = [
            ["--reviews", "-1"],
            ["--reviews", "many"],
            ["--reviews", "10000001"],
            ["--products", "0", "--reviews", "5"],
            ["--seed", "x"],
            ["--addr", "localhost"],
            ["--addr", "127.0.0.1:"],
        ]
        for args in bad:
            with self.subTest(args=args), self.assertRaises(CommandError):
                setup_demo(*args)
        self.assertEqual(raw_count("default", Product), 0)

    def test_the_last_line_says_to_open_the_address_given(self):
        self.assertIn("open http://127.0.0.1:8000/ (admin", setup_demo(*SMALL))
        out = setup_demo(*SMALL, "--addr", "0.0.0.0:9000")
        self.assertIn("Run `python manage.py runserver 0.0.0.0:9000` and open "
                      "http://0.0.0.0:9000/ (admin", out)  # fmt: skip

    def test_a_failure_midway_leaves_nothing_half_written(self):
        with (
            mock.patch.object(SetupDemo, "save_reviews", side_effect=OSError("disk")),
            self.assertRaises(OSError),
        ):
            setup_demo(*SMALL)
        self.assertEqual(raw_count("default", Product), 0)
        self.assertEqual(raw_count("reviews", Review), 0)
        # A rerun then does the whole job.
        setup_demo(*SMALL)
        self.assert_rows(products=5, users=4, reviews=60)


class OutsideDemoModeTests(TransactionTestCase):
    databases = {"default", "reviews"}

    def test_no_admin_account_outside_demo_mode(self):
        with self.settings(DEMO_MODE=False):
            out = setup_demo("--products", "1", "--users", "1", "--reviews", "1")
        self.assertIn("Not in demo mode", out)
        self.assertFalse(get_user_model().objects.filter(username="admin").exists())
        self.assertEqual(raw_count("reviews", Review), 1)
