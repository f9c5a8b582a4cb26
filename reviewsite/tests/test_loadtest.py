"""The load test's own checks: a lost write is noticed, bad arguments refused."""

from django.core.management import CommandError, call_command
from django.test import TestCase

from reviewsite.testing import make_product, make_review
from reviewsite.web.management.commands.loadtest import Command as LoadTest


class LoadTestCommandTests(TestCase):
    databases = "__all__"

    def test_an_acknowledged_review_missing_from_every_database_is_lost(self):
        make_review(make_product(), text="loadtest stored")
        lost = LoadTest().lost_writes(["loadtest stored", "loadtest vanished"])
        self.assertEqual(lost, ["loadtest vanished"])

    def test_bad_arguments_are_refused(self):
        for args in [["--clients", "0"], ["--requests", "0"], ["--writes", "2"]]:
            with self.subTest(args=args), self.assertRaises(CommandError):
                call_command("loadtest", *args)

    def test_no_products_is_refused_before_starting_a_server(self):
        with self.assertRaisesMessage(CommandError, "setup_demo"):
            call_command("loadtest")
