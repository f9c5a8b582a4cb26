"""The activity panel, the same in every pattern project: the queries of the
request that redirected here shown first, each statement whole with its
parameters in place, escaped.

Each project's test run collects these (see its pytest.ini), so every
pattern's routing is checked: the INSERT of a review is shown on the database
that holds it.
"""

import unittest
from contextlib import ExitStack
from datetime import timedelta
from html.parser import HTMLParser

import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connections
from django.http import HttpResponse, HttpResponseRedirect
from django.test import Client, RequestFactory, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count, review_databases
from reviewsite.web import activity
from reviewsite.web.activity import ActivityPanelMiddleware

TEXT = """It's <script>alert("x")</script>"""
# How SQLite's quote() and psycopg write TEXT as an SQL literal.
TEXT_LITERAL = """'It''s <script>alert("x")</script>'"""


class Panel(HTMLParser):
    """What the panel shows, read from its HTML as a browser would (entities
    decoded): the bar's text and writes, and each request with its queries."""

    def __init__(self):
        super().__init__()
        self.bar, self.writes, self.requests = "", [], []
        self.open: list[str] = []  # the classes of the open elements

    def handle_starttag(self, tag, attrs):
        if tag in {"link", "br", "img", "input", "meta", "hr"}:
            return  # no end tag
        classes = dict(attrs).get("class") or ""
        self.open.append(f"{tag}.{classes}")
        if "request" in classes.split():
            self.requests.append(["", []])
        elif "query" in classes.split():
            self.requests[-1][1].append(["", ""])
        elif "write" in classes.split():
            self.writes.append(["", ""])

    def handle_endtag(self, tag):
        while self.open and not self.open.pop().startswith(f"{tag}."):
            pass

    def inside(self, name: str) -> bool:
        return any(name in element.split(".", 1)[1].split() for element in self.open)

    def handle_data(self, data):
        if self.inside("activity-bar"):
            self.bar += data
            if self.inside("write"):
                key = 1 if self.inside("alias") else 0
                self.writes[-1][key] += data
        elif self.inside("request"):
            self.requests[-1][0] += data
        elif self.inside("query") and self.inside("alias"):
            self.requests[-1][1][-1][0] += data
        elif self.inside("sql"):
            self.requests[-1][1][-1][1] += data

    def headings(self) -> list[str]:
        return [" ".join(heading.split()) for heading, _ in self.requests]

    def queries(self, n: int) -> list[tuple[str, str]]:
        """The (alias, SQL) of each query of the n-th request shown."""
        return [(alias.strip(), sql) for alias, sql in self.requests[n][1]]


def panel(response) -> Panel:
    content = response.content.decode()
    assert '<section class="activity"' in content, "no panel on this page"
    parser = Panel()
    parser.html = content[content.index('<section class="activity"') :]
    parser.feed(parser.html)
    return parser


def one_line(sql: str) -> str:
    return " ".join(sql.split())


class ActivityTestCase(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.product = make_product(description="Boils water.")
        make_review(cls.product, text="Fast and quiet.", rating=5)

    def setUp(self):
        self.write_url = reverse("write_review", args=[self.product.pk])
        self.product_url = reverse("product", args=[self.product.pk])

    def post_review(self, client=None, text="Nice.", **kwargs):
        client = client or self.client
        response = client.post(self.write_url, {"text": text, "rating": "4"}, **kwargs)
        if not kwargs.get("follow"):
            self.assertRedirects(
                response, self.product_url, fetch_redirect_response=False
            )
        return response

    def where_stored(self, **where) -> str:
        (alias,) = [a for a in review_databases() if raw_count(a, Review, **where)]
        return alias


class CarriedOverTests(ActivityTestCase):
    def test_the_insert_of_a_posted_review_is_shown_first_on_the_next_page(self):
        self.post_review(text="Carried over")
        shown = panel(self.client.get(self.product_url))
        self.assertEqual(
            shown.headings(),
            [f"POST {self.write_url} → 302", f"GET {self.product_url} → 200"],
        )
        alias = self.where_stored(text="Carried over")
        inserts = [
            (on, sql)
            for on, sql in shown.queries(0)
            if sql.startswith('INSERT INTO "reviews_review"')
        ]
        self.assertEqual(len(inserts), 1, shown.queries(0))
        self.assertEqual(inserts[0][0], alias)
        self.assertIn('INSERT INTO "reviews_review"', one_line(inserts[0][1]))
        self.assertIn("'Carried over'", inserts[0][1])
        self.assertIn(["INSERT reviews_review", alias], [
            [" ".join(verb.split()), on.strip()] for verb, on in shown.writes
        ])  # fmt: skip
        self.assertIn(f"POST {self.write_url} → 302", " ".join(shown.bar.split()))

    def test_carried_queries_are_shown_once(self):
        self.post_review()
        self.assertEqual(len(panel(self.client.get(self.product_url)).requests), 2)
        again = panel(self.client.get(self.product_url))
        self.assertEqual(again.headings(), [f"GET {self.product_url} → 200"])
        self.assertEqual(again.writes, [])

    def test_carried_queries_are_shown_to_their_client_only(self):
        self.post_review()
        other = panel(Client().get(self.product_url))
        self.assertEqual(other.headings(), [f"GET {self.product_url} → 200"])
        own = panel(self.client.get(self.product_url))
        self.assertEqual(own.headings()[0], f"POST {self.write_url} → 302")

    def test_a_token_sent_again_shows_nothing(self):
        """Two tabs, or a cookie replayed: the queries are shown once."""
        self.post_review()
        token = self.client.cookies[activity.COOKIE].value
        self.client.get(self.product_url)
        self.client.cookies[activity.COOKIE] = token
        again = panel(self.client.get(self.product_url))
        self.assertEqual(again.headings(), [f"GET {self.product_url} → 200"])

    def test_a_request_that_shows_no_panel_leaves_them_for_the_page(self):
        """The browser's own requests (a HEAD, /favicon.ico's 404 in DEBUG)
        come between the redirect and its page."""
        self.post_review()
        self.client.head(self.product_url)
        with override_settings(DEBUG=True):
            self.client.get("/favicon.ico")
        shown = panel(self.client.get(self.product_url))
        self.assertEqual(shown.headings()[0], f"POST {self.write_url} → 302")

    def test_carried_queries_are_forgotten_after_a_minute(self):
        with time_machine.travel("2026-11-30 12:00Z", tick=False) as traveller:
            self.post_review()
            traveller.shift(timedelta(seconds=activity.CARRIED_SECONDS + 1))
            shown = panel(self.client.get(self.product_url))
        self.assertEqual(shown.headings(), [f"GET {self.product_url} → 200"])

    def test_each_request_of_a_redirect_chain_is_carried(self):
        response = self.client.get("/admin", follow=True)
        self.assertEqual(response.redirect_chain[-1][0], "/admin/login/?next=/admin/")
        *redirects, last = panel(response).headings()
        self.assertEqual(redirects, ["GET /admin → 301", "GET /admin/ → 302"])
        self.assertRegex(last, r"^GET /admin/login/\?next=.+ → 200$")

    def test_carrying_queries_over_needs_no_session_and_no_query(self):
        """Kept outside every database: an anonymous visitor gets no session
        (a session changes routing: replication reads the primary for it),
        and no page shows a query the panel made."""
        self.post_review(text="No session")
        self.assertNotIn(settings.SESSION_COOKIE_NAME, self.client.cookies)
        self.assertFalse(Session.objects.exists())
        shown = panel(self.client.get(self.product_url))
        for n in range(2):
            for _alias, sql in shown.queries(n):
                self.assertNotIn("django_session", sql)


def redirect_after(queries: int, length: int = 10):
    """A view that runs ``queries`` queries of about ``length`` characters on
    default, then redirects."""

    def view(request):
        padding = "x" * max(0, length - 20)
        with connections["default"].cursor() as cursor:
            for n in range(queries):
                cursor.execute("SELECT %s, %s", [n, padding])
        return HttpResponseRedirect("/next/")

    return view


def page(request):
    return HttpResponse("<html><body><p>Next</p></body></html>")


class CarriedOverBoundsTests(TestCase):
    databases = "__all__"

    def follow(self, view, client_cookies=None) -> Panel:
        """``view`` answers a redirect; the same client's next page."""
        factory = RequestFactory()
        response = ActivityPanelMiddleware(view)(factory.post("/form/"))
        request = factory.get("/next/")
        request.COOKIES = {k: m.value for k, m in response.cookies.items()}
        return panel(ActivityPanelMiddleware(page)(request))

    def test_a_redirect_with_many_queries_carries_the_first_ones_and_says_so(self):
        shown = self.follow(redirect_after(activity.CARRIED_QUERIES + 7))
        self.assertEqual(len(shown.queries(0)), activity.CARRIED_QUERIES)
        content = " ".join(shown.html.split())
        self.assertIn("… 7 more queries, not carried over", content)

    def test_long_statements_are_carried_up_to_a_total_and_cut_saying_so(self):
        length = activity.CARRIED_CHARACTERS // 3 + 10
        shown = self.follow(redirect_after(4, length=length))
        sqls = [sql for _, sql in shown.queries(0)]
        self.assertEqual(len(sqls), 3)
        self.assertEqual(sum(len(s) for s in sqls), activity.CARRIED_CHARACTERS)
        self.assertIn("more characters, not carried over", shown.html)
        self.assertIn("… 1 more query, not carried over", " ".join(shown.html.split()))

    def test_the_store_keeps_a_bounded_number_of_redirects(self):
        store = {
            **settings.CACHES["activity"],
            "LOCATION": "activity-panel-of-this-test",  # empty, bounded from the start
            "OPTIONS": {"MAX_ENTRIES": 3},
        }
        with override_settings(CACHES={**settings.CACHES, "activity": store}):
            seen = self.redirect_ten_clients_then_follow()
        self.assertLessEqual(seen.count(2), 3)
        self.assertEqual(seen[-1], 2)  # the newest is kept

    def redirect_ten_clients_then_follow(self) -> list[int]:
        """How many requests each client's next page shows."""
        factory = RequestFactory()
        cookies = []
        for _ in range(10):  # ten clients, none following its redirect
            response = ActivityPanelMiddleware(redirect_after(1))(factory.post("/"))
            cookies.append({k: m.value for k, m in response.cookies.items()})
        seen = []
        for jar in cookies:
            request = factory.get("/next/")
            request.COOKIES = jar
            seen.append(len(panel(ActivityPanelMiddleware(page)(request)).requests))
        return seen


class WholeSqlTests(ActivityTestCase):
    def test_session_keys_and_password_hashes_are_not_shown(self):
        """Any script on the page could read them (the cookie is HttpOnly)."""
        user = get_user_model().objects.create_user("ada", password="secret")
        self.client.post(reverse("login"), {"username": "ada", "password": "secret"})
        page = self.client.get(self.product_url).content.decode()
        user.refresh_from_db(using="default")
        self.assertNotIn(self.client.cookies["sessionid"].value, page)
        self.assertNotIn(user.password, page)
        self.assertIn("parameters not shown", page)

    def test_each_statement_is_whole_with_its_parameters_as_django_records_it(self):
        with ExitStack() as stack:
            captured = {
                alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
                for alias in connections
            }
            self.post_review(text=TEXT + " and more" * 40)
        recorded = [  # read before the next request resets them
            (alias, one_line(query["sql"]))
            for alias, context in captured.items()
            for query in context.captured_queries
            # Django also logs BEGIN and COMMIT, which are not execute() calls.
            if not query["sql"].startswith(("BEGIN", "COMMIT", "ROLLBACK"))
        ]
        shown = panel(self.client.get(self.product_url))
        in_panel = [(alias, one_line(sql)) for alias, sql in shown.queries(0)]
        self.assertTrue(recorded)
        for query in recorded:
            self.assertIn(query, in_panel)
        self.assertTrue(any(len(sql) > 300 for _, sql in in_panel))
        literal = TEXT_LITERAL[:-1] + " and more"  # the text goes on
        self.assertTrue(any(literal in sql for _, sql in in_panel))

    def test_html_in_a_parameter_is_escaped(self):
        self.post_review(text=TEXT)
        content = self.client.get(self.product_url).content.decode()
        shown = content[content.index('<section class="activity"') :]
        self.assertNotIn("<script>", shown)
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;", shown)

    def test_a_statement_is_formatted_keywords_on_new_lines(self):
        shown = panel(self.client.get(self.product_url))
        formatted = [
            sql
            for _, sql in shown.queries(0)
            if sql.startswith("SELECT ") and "\nFROM " in sql and "\nWHERE " in sql
        ]
        self.assertTrue(formatted, shown.queries(0))

    @unittest.skipUnless(hasattr(settings, "SHARDS"), "sharding's fan-out")
    def test_a_fan_out_query_shows_its_cursor_condition_and_limit(self):
        for n in range(25):
            make_review(self.product, text=f"Review {n}")
        first = self.client.get(reverse("latest_reviews"))
        before = first.context["next_cursor"]
        review_id = before.split("_")[1]
        shown = panel(self.client.get(reverse("latest_reviews") + f"?before={before}"))
        for alias in settings.SHARDS:
            with self.subTest(alias=alias):
                # Its share of the page first (sharding/project/shares.py).
                sql = next(
                    one_line(sql)
                    for on, sql in shown.queries(0)
                    if on == alias and '"reviews_review"."text"' in sql
                )
                self.assertIn(f'"reviews_review"."id" < {review_id}', sql)
                self.assertIn('"reviews_review"."created" <', sql)
                self.assertRegex(sql, r"LIMIT [0-9]+$")


class OwnStyleTests(ActivityTestCase):
    def test_the_panel_brings_its_own_stylesheet_to_the_admin(self):
        content = self.client.get("/admin/login/").content.decode()
        self.assertNotIn("web/site.css", content)
        shown = content[content.index('<section class="activity"') - 400 :]
        self.assertIn("web/activity.css", shown)

    def test_the_panel_is_a_bar_that_opens_into_the_list(self):
        shown = panel(self.client.get(self.product_url))
        self.assertIn("Database activity", shown.bar)
        content = self.client.get(self.product_url).content.decode()
        self.assertRegex(content, r'<details class="activity-drawer">\s*<summary')
