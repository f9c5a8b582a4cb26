"""A browser suite skips where Chromium is missing, and fails where CI requires it."""

import unittest
from unittest import mock

from django.test import SimpleTestCase

from reviewsite import chromium


@mock.patch.object(chromium, "CHROMIUM", "/nonexistent/chromium")
class SkipWithoutChromiumTests(SimpleTestCase):
    def test_a_machine_without_chromium_skips_the_browser_tests(self):
        with (
            mock.patch.dict("os.environ", {"REQUIRE_CHROMIUM": ""}),
            self.assertRaisesMessage(unittest.SkipTest, "No Chromium at /nonexistent"),
        ):
            chromium.skip_without_chromium()

    def test_ci_fails_them_instead_of_skipping(self):
        with (
            mock.patch.dict("os.environ", {"REQUIRE_CHROMIUM": "1"}),
            self.assertRaisesMessage(RuntimeError, "REQUIRE_CHROMIUM=1, but: No"),
        ):
            chromium.skip_without_chromium()
