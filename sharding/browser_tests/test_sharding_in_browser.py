"""Cursor pages across shards in Chromium: following "Older" from the newest
page shows every review once, newest first, as one database would."""

from django.conf import settings

from project.shares import SPARE
from reviewsite.browser_tests.test_site_in_browser import BrowserTestCase
from reviewsite.chromium import screenshot_on_failure
from reviewsite.testing import make_product, make_review
from tests.helpers import home, newest, stored_reviews


class CursorPagesInBrowserTests(BrowserTestCase):
    def test_following_older_shows_every_review_once_newest_first(self):
        products = [make_product(f"Sharded {n}") for n in range(8)]
        for n in range(53):  # three pages of 20, the last one short
            make_review(products[n * 5 % 8], text=f"Review number {n}")
        self.assertGreater(len({home(p.pk) for p in products}), 1)
        oracle = [r[0] for r in sorted(stored_reviews(), key=newest, reverse=True)]
        page, seen, pages = self.page, [], 0
        with screenshot_on_failure(page, self.id()):
            page.goto(self.url("/reviews/"))
            while True:
                pages += 1
                links = page.locator("article.review header a[href^='/reviews/']")
                seen += [int(h.split("/")[2]) for h in self.hrefs(links)]
                older = page.locator("a[rel=next]")
                if not older.count():
                    break
                older.click()
                page.wait_for_url("**/reviews/?before=*")
            self.assertNotIn("did not answer", page.content())
        self.assertEqual(pages, 3)
        self.assertEqual(seen, oracle)
        self.assertEqual(len(settings.SHARDS), 4)

    def hrefs(self, links) -> list[str]:
        return [links.nth(i).get_attribute("href") for i in range(links.count())]


class ActivityBarInBrowserTests(BrowserTestCase):
    def test_the_activity_bar_shows_the_insert_of_a_review_on_its_shard(self):
        product = make_product("Sharded Kettle")
        with screenshot_on_failure(self.page, self.id()):
            self.publish_review(product, "Written to a shard")
            writes = self.writes_in_the_bar()
        self.assertIn(("INSERT reviews_review", home(product.pk)), writes)
        others = set(settings.SHARDS) - {home(product.pk)}
        self.assertFalse(others & {alias for _, alias in writes})

    def test_a_fan_out_query_shows_its_cursor_condition_and_limit(self):
        product = make_product("Sharded Kettle")
        for n in range(25):
            make_review(product, text=f"Review number {n}")
        page = self.page
        with screenshot_on_failure(page, self.id()):
            page.goto(self.url("/reviews/"))
            page.locator("a[rel=next]").click()
            page.wait_for_url("**/reviews/?before=*")
            before = page.url.split("before=")[1]
            self.open_activity_panel()
            # Asked first for its share of a page and one row (shares.py).
            share = -(-21 // len(settings.SHARDS)) + SPARE
            query = (
                page.locator(".activity .query")
                .filter(has_text=f"LIMIT {share}")
                .filter(has=page.locator(f".alias:text-is('{home(product.pk)}')"))
            )
            query.locator("summary").click()
            shown = query.locator("pre.sql").inner_text()
        self.assertIn(f'"reviews_review"."id" < {before.split("_")[1]}', shown)
        self.assertIn('"reviews_review"."created" <', shown)
        self.assertTrue(shown.rstrip().endswith(f"LIMIT {share}"), shown)
