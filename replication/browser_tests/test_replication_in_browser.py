"""The talk's story in two Chromium windows: Alice writes a review and sees it
at once; Bob does not, until replication catches up; then he does."""

from reviewsite.browser_tests.test_site_in_browser import BrowserTestCase
from reviewsite.chromium import screenshot_on_failure
from reviewsite.testing import make_product
from tests.helpers import replicate, reviews_on

TEXT = "Alice wrote this in Chromium"


class TwoBrowsersTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.product = make_product("Replicated Kettle")
        replicate()  # the product, and a fresh heartbeat, on both replicas
        bob = self.browser.new_context()
        self.addCleanup(bob.close)
        self.alice, self.bob = self.page, bob.new_page()
        self.bob.set_default_timeout(10_000)

    def articles(self, page) -> str:
        return " ".join(page.locator("article.review").all_inner_texts())

    def test_a_writer_sees_her_review_at_once_and_others_after_replication(self):
        url = self.url(self.product.get_absolute_url())
        with (
            screenshot_on_failure(self.alice, self.id() + ".alice"),
            screenshot_on_failure(self.bob, self.id() + ".bob"),
        ):
            self.alice.goto(url)
            self.alice.fill("textarea[name=text]", TEXT)
            self.alice.click("text=Publish review")
            self.alice.get_by_text("your review is saved").wait_for()
            self.assertIn(TEXT, self.articles(self.alice))
            banner = self.alice.locator("p.banner").inner_text()
            self.assertIn("your reads come from the primary", banner)

            self.bob.goto(url)
            self.assertNotIn(TEXT, self.articles(self.bob))
            self.assertIn("a replica", self.bob.locator("p.banner").inner_text())
            self.assertEqual(
                [reviews_on(alias, text=TEXT) for alias in ["replica1", "replica2"]],
                [0, 0],
            )

            replicate()
            self.bob.reload()
            self.assertIn(TEXT, self.articles(self.bob))
            self.assertIn("a replica", self.bob.locator("p.banner").inner_text())

    def test_logging_in_reads_a_replica_and_writing_a_review_reads_the_primary(self):
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_user("alice", password="alices-pw")
        replicate()
        url = self.url(self.product.get_absolute_url())
        page = self.alice
        with screenshot_on_failure(page, self.id()):
            page.goto(
                self.url(f"/accounts/login/?next={self.product.get_absolute_url()}")
            )
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "alices-pw")
            page.click("main button[type=submit]")
            page.wait_for_url(url)
            self.assertIn("Log out alice", page.locator("header").inner_text())
            banner = page.locator("p.banner").inner_text()
            self.assertIn("a replica", banner)
            self.assertNotIn("You just wrote", banner)

            page.fill("textarea[name=text]", TEXT)
            page.click("text=Publish review")
            page.get_by_text("your review is saved").wait_for()
            banner = page.locator("p.banner").inner_text()
            self.assertIn("You just wrote", banner)

    def test_the_activity_bar_shows_the_insert_of_a_review_on_the_primary(self):
        with screenshot_on_failure(self.alice, self.id()):
            self.publish_review(self.product, TEXT)
            writes = self.writes_in_the_bar()
        self.assertIn(("INSERT reviews_review", "default"), writes)
        self.assertEqual({alias for _, alias in writes}, {"default"})
