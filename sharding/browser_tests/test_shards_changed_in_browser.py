"""A server started before `rebalance` added a shard shows a page saying to
restart it, in Chromium as anywhere: not a 500, not a page missing reviews."""

from django.db.models import F

from project import shardmap
from project.models import ShardMap
from reviewsite.browser_tests.test_site_in_browser import BrowserTestCase
from reviewsite.chromium import screenshot_on_failure
from reviewsite.testing import make_product, make_review


class ShardsChangedInBrowserTests(BrowserTestCase):
    def test_a_map_ahead_of_the_server_shows_a_page_saying_restart(self):
        make_review(make_product("Sharded Kettle"))
        ShardMap.objects.filter(logical=5).update(
            alias="shard9", version=F("version") + 1
        )
        shardmap.forget()
        self.addCleanup(shardmap.forget)
        with screenshot_on_failure(self.page, self.id()):
            response = self.page.goto(self.url("/reviews/"))
            heading = self.page.locator("h1").inner_text()
            text = self.page.locator("main").inner_text()
        self.assertEqual(response.status, 503)
        self.assertEqual(heading, "The shards have changed")
        self.assertIn("shard9", text)
        self.assertIn("Restart the server", text)
