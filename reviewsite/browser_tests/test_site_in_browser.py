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
from reviewsite.reviews.models import Review
from reviewsite.testing import (
    find_review,
    make_product,
    make_review,
    raw_count,
    review_databases,
)


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

    def log_in_to_the_admin(self) -> None:
        """As a new superuser, boss, through the admin's login form."""
        get_user_model().objects.create_superuser("boss", "b@x.org", "s3cret-pw")
        self.page.goto(self.url("/admin/"))
        self.page.fill("input[name=username]", "boss")
        self.page.fill("input[name=password]", "s3cret-pw")
        self.page.click("input[type=submit]")

    def publish_review(self, product, text: str) -> None:
        """Write a review of ``product`` in the browser, and wait for the page
        the form redirects to."""
        self.page.goto(self.url(product.get_absolute_url()))
        self.page.fill("textarea[name=text]", text)
        self.page.click("text=Publish review")
        self.page.get_by_text("your review is saved").wait_for()

    def writes_in_the_bar(self) -> list[tuple[str, str]]:
        """The writes the activity bar shows, as (statement, database), each
        one checked to be in the window."""
        writes = []
        for write in self.page.locator(".activity-bar .write").all():
            self.assert_in_window(write)
            alias = write.locator(".alias").inner_text()
            statement = write.evaluate(WITHOUT_ALIAS)
            writes.append((" ".join(statement.split()), alias))
        return writes

    def open_activity_panel(self) -> None:
        """Click the activity bar open: its list of queries shows."""
        self.page.locator("summary.activity-bar").click()
        self.page.locator(".activity-list").wait_for()

    def assert_in_window(self, locator) -> None:
        box = locator.bounding_box()
        size = self.page.viewport_size
        self.assertIsNotNone(box, "not shown")
        self.assertGreaterEqual(box["x"], 0)
        self.assertGreaterEqual(box["y"], 0)
        self.assertLessEqual(box["x"] + box["width"], size["width"] + 0.5)
        self.assertLessEqual(box["y"] + box["height"], size["height"] + 0.5)


# The text of an element but its database badge.
WITHOUT_ALIAS = """e => Array.from(e.childNodes)
  .filter(n => !(n.classList && n.classList.contains("alias")))
  .map(n => n.textContent).join("")"""


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
            self.open_activity_panel()
            shown = set(panel.locator(".queries .alias").all_inner_texts())
        self.assertTrue(shown)
        self.assertLessEqual(shown, set(connections))

    def test_admin_login_and_edit_a_review(self):
        review = make_review(self.product, text="Before the edit")
        page = self.page
        with screenshot_on_failure(page, self.id()):
            self.log_in_to_the_admin()
            page.goto(self.url(f"/admin/reviews/review/{review.pk}/change/"))
            page.fill("textarea[name=text]", "After the edit")
            page.click("input[name=_save]")
            page.get_by_text("was changed successfully").wait_for()
        review.refresh_from_db()
        self.assertEqual(review.text, "After the edit")


class SitePages:
    """Every page of the site, with rows like the demo's."""

    def setUp(self):
        super().setUp()
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


class NarrowScreenTests(SitePages, BrowserTestCase):
    """A phone's width: 390 CSS pixels (an iPhone 12 to 15)."""

    WIDTH = 390

    def setUp(self):
        super().setUp()
        self.page.set_viewport_size({"width": self.WIDTH, "height": 844})

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


TEXT = 'It\'s <b>mine</b>, said "Ada"'
# How SQLite's quote() and psycopg write TEXT as an SQL literal.
TEXT_LITERAL = """'It''s <b>mine</b>, said "Ada"'"""


class ActivityBarTests(SitePages, BrowserTestCase):
    """The activity panel: a bar at the bottom of the window that opens into
    every query of the request, and of the one that redirected to it."""

    SIZES = [(1280, 800), (390, 844)]

    def bar(self):
        return self.page.locator("section.activity summary.activity-bar")

    def test_after_posting_a_review_the_bar_shows_its_insert_and_its_database(self):
        product = self.product
        with screenshot_on_failure(self.page, self.id()):
            self.publish_review(product, "Seen in the bar")
            self.assertIn(
                f"POST {reverse('write_review', args=[product.pk])} → 302",
                self.bar().inner_text(),
            )
            writes = self.writes_in_the_bar()
        stored = [
            alias
            for alias in review_databases()
            if raw_count(alias, Review, text="Seen in the bar")
        ]
        self.assertEqual(len(stored), 1)
        self.assertIn(("INSERT reviews_review", stored[0]), writes)

    def test_an_expanded_query_shows_its_whole_sql_with_its_parameters(self):
        with screenshot_on_failure(self.page, self.id()):
            self.publish_review(self.product, TEXT)
            self.bar().click()
            insert = self.page.locator(".activity .query").filter(
                has_text='INSERT INTO "reviews_review"'
            )
            self.assertEqual(insert.count(), 1)
            sql = insert.locator("pre.sql")
            self.assertFalse(sql.is_visible())  # collapsed
            insert.locator("summary").click()
            self.assertTrue(sql.is_visible())
            shown = sql.inner_text()
        self.assertIn(TEXT_LITERAL, shown)
        self.assertIn(f"{self.product.pk}", shown)
        self.assertRegex(shown, r"\nVALUES \(")
        self.assertEqual(self.page.locator(".activity b").count(), 0)

    def test_the_bar_is_in_the_window_of_every_page_without_scrolling(self):
        for width, height in self.SIZES:
            self.page.set_viewport_size({"width": width, "height": height})
            for path in self.pages():
                with (
                    self.subTest(path=path, width=width),
                    screenshot_on_failure(self.page, f"{self.id()}.{width}"),
                ):
                    self.page.goto(self.url(path))
                    self.assertEqual(self.page.evaluate("window.scrollY"), 0)
                    self.assert_in_window(self.bar())
                    badges = self.bar().locator(".alias")
                    self.assertEqual(badges.count(), len(list(connections)))
                    self.assert_in_window(badges.first)

    def test_the_bar_hides_nothing_at_the_end_of_a_page(self):
        for width, height in self.SIZES:
            self.page.set_viewport_size({"width": width, "height": height})
            for path in [*self.pages(), "/admin/reviews/review/"]:
                with (
                    self.subTest(path=path, width=width),
                    screenshot_on_failure(self.page, f"{self.id()}.{width}"),
                ):
                    self.page.goto(self.url(path))
                    self.assert_last_content_above_the_bar()

    def assert_last_content_above_the_bar(self) -> None:
        self.page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        content_bottom = self.page.evaluate(CONTENT_BOTTOM)
        bar_top = self.page.locator("section.activity").bounding_box()["y"]
        self.assertLessEqual(content_bottom, bar_top + 0.5)

    def test_the_bar_opens_with_the_keyboard_into_a_list_that_scrolls_inside(self):
        for width, height in self.SIZES:
            self.page.set_viewport_size({"width": width, "height": height})
            with (
                self.subTest(width=width),
                screenshot_on_failure(self.page, f"{self.id()}.{width}"),
            ):
                self.page.goto(self.url(self.product.get_absolute_url()))
                listing = self.page.locator(".activity .activity-list")
                self.assertFalse(listing.is_visible())
                self.bar().focus()
                self.page.keyboard.press("Enter")
                self.assertTrue(listing.is_visible())
                self.assertEqual(self.page.evaluate("window.scrollY"), 0)
                panel = self.page.locator("section.activity").bounding_box()
                self.assertGreater(panel["y"], height / 4)  # never the whole page
                self.assertEqual(panel["y"] + panel["height"], height)
                overflow = listing.evaluate("e => getComputedStyle(e).overflowY")
                self.assertEqual(overflow, "auto")
                width_now = self.page.evaluate("document.documentElement.scrollWidth")
                self.assertLessEqual(width_now, width)
                self.page.keyboard.press("Enter")
                self.assertFalse(listing.is_visible())

    def test_the_panel_is_styled_in_the_admin(self):
        self.page.set_viewport_size({"width": 1280, "height": 800})
        with screenshot_on_failure(self.page, self.id()):
            self.log_in_to_the_admin()
            self.page.wait_for_url(self.url("/admin/"))
            self.assertIn(
                "POST /admin/login/?next=/admin/ → 302", self.bar().inner_text()
            )
            self.page.goto(self.url(f"/admin/reviews/review/{self.review.pk}/change/"))
            position = self.bar().evaluate(
                "e => getComputedStyle(e.closest('section')).position"
            )
            self.assertEqual(position, "fixed")
            self.assert_in_window(self.bar())
            self.assert_last_content_above_the_bar()


# The lowest bottom edge of everything on the page but the activity panel.
CONTENT_BOTTOM = """
Math.max(...Array.from(document.body.querySelectorAll("*"))
  .filter(e => !e.closest(".activity, .activity-spacer"))
  .map(e => e.getBoundingClientRect().bottom))
"""
