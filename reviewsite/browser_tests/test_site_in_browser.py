"""The review site in a real Chromium, against a live server: every project runs these.

Run with the project's browser tox env (`tox run -e browser-replication`), or
`python -m pytest ../reviewsite/browser_tests browser_tests` in a project folder
(its browser_tests/ holds the pattern's own browser tests, on this base class).
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections

from reviewsite.chromium import chromium, screenshot_on_failure, skip_without_chromium
from reviewsite.testing import find_review, make_product, make_review


class BrowserTestCase(StaticLiveServerTestCase):
    """One Chromium for the class and a fresh page per test.

    Tests wrap their browser steps in ``screenshot_on_failure(self.page, self.id())``.
    """

    databases = "__all__"

    @classmethod
    def setUpClass(cls):
        skip_without_chromium()
        # Playwright's sync API keeps an event loop in this thread; the ORM
        # calls these tests make between browser steps are still synchronous.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        super().setUpClass()
        cls.browser_cm = chromium()
        cls.browser = cls.browser_cm.__enter__()

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "browser_cm"):
            cls.browser_cm.__exit__(None, None, None)
        super().tearDownClass()

    def setUp(self):
        self.context = self.browser.new_context()
        self.addCleanup(self.context.close)
        page = self.context.new_page()
        page.set_default_timeout(10_000)
        self.page = page

    def url(self, path: str) -> str:
        return self.live_server_url + path


class SiteInBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.product = make_product("Quiet Kettle", description="Boils water.")

    def test_write_a_review_and_see_it(self):
        page = self.page
        with screenshot_on_failure(page, self.id()):
            page.goto(self.url(self.product.get_absolute_url()))
            page.select_option("select[name=rating]", "4")
            page.fill("textarea[name=text]", "Seen in a real browser <b>bold?</b>")
            page.click("text=Publish review")
            page.wait_for_url(self.url(self.product.get_absolute_url()))
            page.get_by_text("your review is saved").wait_for()
            review = page.locator("article.review").first
            self.assertIn("Seen in a real browser <b>bold?</b>", review.inner_text())
            self.assertEqual(page.locator("article.review b").count(), 0)
        stored = find_review(text="Seen in a real browser <b>bold?</b>")
        self.assertEqual((stored.product_id, stored.rating), (self.product.pk, 4))

    def test_activity_panel_names_the_databases_of_the_page(self):
        make_review(self.product, text="Already here")
        page = self.page
        with screenshot_on_failure(page, self.id()):
            page.goto(self.url(self.product.get_absolute_url()))
            panel = page.locator("section.activity")
            self.assertTrue(panel.is_visible())
            shown = set(panel.locator(".queries .alias").all_inner_texts())
        self.assertTrue(shown)
        self.assertLessEqual(shown, set(connections))

    def test_admin_login_and_edit_a_review(self):
        get_user_model().objects.create_superuser("boss", "b@x.org", "s3cret-pw")
        review = make_review(self.product, text="Before the edit")
        page = self.page
        with screenshot_on_failure(page, self.id()):
            page.goto(self.url("/admin/"))
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", "s3cret-pw")
            page.click("input[type=submit]")
            page.goto(self.url(f"/admin/reviews/review/{review.pk}/change/"))
            page.fill("textarea[name=text]", "After the edit")
            page.click("input[name=_save]")
            page.get_by_text("was changed successfully").wait_for()
        review.refresh_from_db()
        self.assertEqual(review.text, "After the edit")
