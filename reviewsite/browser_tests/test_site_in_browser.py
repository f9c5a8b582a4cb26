"""The review site in a real Chromium, against a live server: every project runs these.

Run with the project's browser tox env (`tox run -e browser-replication`), or
`python -m pytest ../reviewsite/browser_tests browser_tests` in a project folder
(its browser_tests/ holds the pattern's own browser tests, on this base class).
"""

import os
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections
from django.urls import URLPattern, get_resolver, reverse

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


class NarrowScreenTests(BrowserTestCase):
    """A phone's width: 390 CSS pixels (an iPhone 12 to 15)."""

    WIDTH = 390

    def setUp(self):
        super().setUp()
        self.page.set_viewport_size({"width": self.WIDTH, "height": 844})
        # Rows like the demo's (setup_demo), and some longer than any of them.
        names = ["Bamboo Backpack", "Cast-iron Notebook", "Classic Coffee Grinder",
                 "Ultrasonicdehumidifierwithoutanyspaceinitsname"]  # fmt: skip
        for n, name in enumerate(names):
            product = make_product(name, price=Decimal("1234.56") + n)
            for k in range(12):
                make_review(product, rating=k % 5 + 1, text=f"Review {k} " + "a" * 80)
        self.product, self.review = product, make_review(product, text="Last one")

    def pages(self) -> list[str]:
        """The site's pages: those without an argument (this pattern's own
        among them), one of each of the others, the login page and a 404."""
        plain = [
            "/" + str(entry.pattern)
            for entry in get_resolver().url_patterns
            if isinstance(entry, URLPattern) and not entry.pattern.converters
        ]
        return [
            *plain,
            reverse("product", args=[self.product.pk]),
            reverse("product", args=[self.product.pk]) + "?page=2",
            reverse("write_review", args=[self.product.pk]),
            reverse("review", args=[self.review.pk]),
            reverse("login"),
            "/no-such-page/",
        ]

    def assert_no_page_is_wider_than_the_screen(self, name: str):
        for path in self.pages():
            with self.subTest(path=path), screenshot_on_failure(self.page, name):
                response = self.page.goto(self.url(path))
                self.assertLess(response.status, 500, path)
                width = self.page.evaluate("document.documentElement.scrollWidth")
                self.assertLessEqual(width, self.WIDTH, path)

    def test_no_page_scrolls_sideways_at_390_px(self):
        self.assert_no_page_is_wider_than_the_screen(self.id())

    def test_no_page_scrolls_sideways_at_390_px_logged_in(self):
        User = get_user_model()
        user = User.objects.create_user("someone-with-a-long-name", password="pw")
        self.client.force_login(user)
        cookie = self.client.cookies["sessionid"]
        self.context.add_cookies(
            [{"name": "sessionid", "value": cookie.value, "url": self.live_server_url}]
        )
        self.page.goto(self.url("/"))
        self.assertIn(f"Log out {user.username}", self.page.inner_text("header"))
        self.assert_no_page_is_wider_than_the_screen(self.id())
