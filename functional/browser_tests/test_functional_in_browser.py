"""Functional separation in Chromium: a review written in the browser is stored
in the reviews database, and the product it is about stays in default."""

from reviewsite.browser_tests.test_site_in_browser import BrowserTestCase
from reviewsite.chromium import screenshot_on_failure
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, raw_count, table_exists


class FunctionalInBrowserTests(BrowserTestCase):
    def test_a_review_from_the_browser_lands_in_reviews_only(self):
        product = make_product("Split Kettle")
        page = self.page
        with screenshot_on_failure(page, self.id()):
            page.goto(self.url(product.get_absolute_url()))
            page.fill("textarea[name=text]", "Stored apart from its product")
            page.click("text=Publish review")
            page.get_by_text("your review is saved").wait_for()
            self.open_activity_panel()
            shown = page.locator(".activity .queries .alias").all_inner_texts()
        self.assertIn("reviews", shown)  # the panel names the database read
        text = "Stored apart from its product"
        self.assertEqual(raw_count("reviews", Review, text=text), 1)
        self.assertFalse(table_exists("reviews", Product))
        self.assertEqual(raw_count("default", Product, id=product.pk), 1)
        self.assertFalse(table_exists("default", Review))  # not even the table

    def test_the_activity_bar_shows_the_insert_of_a_review_on_reviews(self):
        product = make_product("Split Kettle")
        with screenshot_on_failure(self.page, self.id()):
            self.publish_review(product, "Written to reviews")
            writes = self.writes_in_the_bar()
        self.assertEqual(writes, [("INSERT reviews_review", "reviews")])
