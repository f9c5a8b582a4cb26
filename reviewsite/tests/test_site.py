"""The review site's behaviour, the same in every pattern project.

Each project's test run collects these too (see its pytest.ini), so every
pattern's routing is checked against the same pages.
"""

import sys

from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory, TestCase, override_settings
from django.urls import reverse
from django.views.debug import technical_500_response

from reviewsite.testing import find_review, make_product, make_review, review_count
from reviewsite.web.activity import Activity, ActivityPanelMiddleware

PANEL = b'<section class="activity"'


class SiteTestCase(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.product = make_product(description="Boils water.")
        cls.review = make_review(cls.product, text="Fast and quiet.", rating=5)

    def post_review(self, client=None, follow=False, **data):
        client = client or self.client
        data.setdefault("text", "Nice.")
        url = reverse("write_review", args=[self.product.pk])
        return client.post(url, data, follow=follow)


class PagesTests(SiteTestCase):
    def test_every_page_renders_the_demo_data(self):
        pages = {
            reverse("products"): "Solar Kettle",
            reverse("product", args=[self.product.pk]): "Fast and quiet.",
            reverse("latest_reviews"): "Fast and quiet.",
            reverse("review", args=[self.review.pk]): "Solar Kettle",
            reverse("write_review", args=[self.product.pk]): "Publish review",
        }
        for url, text in pages.items():
            with self.subTest(url=url):
                self.assertContains(self.client.get(url), text)

    def test_product_list_shows_review_count_and_average(self):
        make_review(self.product, rating=2)
        response = self.client.get(reverse("products"))
        product = response.context["object_list"][0]
        self.assertEqual((product.stats.count, product.stats.average), (2, 3.5))

    def test_product_page_paginates_reviews(self):
        for n in range(12):
            make_review(self.product, text=f"Review number {n}")
        url = reverse("product", args=[self.product.pk])
        first, second = self.client.get(url), self.client.get(url + "?page=2")
        self.assertEqual(len(first.context["page_obj"].object_list), 10)
        self.assertEqual(len(second.context["page_obj"].object_list), 3)
        self.assertEqual(first.context["page_obj"].paginator.count, 13)


class BadInputTests(SiteTestCase):
    def test_unknown_or_malformed_ids_give_404(self):
        urls = [
            "/products/999999/",
            "/products/abc/",
            "/products/-1/",
            "/products/0/",
            "/products/99999999999999999999999999/",
            "/products/9223372036854775808/",  # one past the largest 64-bit id
            "/products/999999/review/",
            "/reviews/999999/",
            "/reviews/1.5/",
            "/reviews/%00/",
            "/reviews/9223372036854775807/",  # the largest 64-bit id: no such row
        ]
        for url in urls:
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)

    def test_rating_outside_1_to_5_is_a_form_error(self):
        for rating in ["0", "6", "-1", "abc", "999999999999999999999"]:
            with self.subTest(rating=rating):
                response = self.post_review(rating=rating)
                self.assertEqual(response.status_code, 200)
                self.assertIn("rating", response.context["form"].errors)
        self.assertEqual(review_count(), 1)

    def test_missing_or_oversize_text_is_a_form_error(self):
        for text in ["", "x" * 5001]:
            with self.subTest(length=len(text)):
                response = self.post_review(text=text, rating="3")
                self.assertIn("text", response.context["form"].errors)
        self.assertEqual(review_count(), 1)

    def test_html_in_review_text_is_escaped(self):
        self.post_review(text="<script>alert('x')</script>", rating="4")
        for url in [
            reverse("product", args=[self.product.pk]),
            reverse("latest_reviews"),
        ]:
            with self.subTest(url=url):
                body = self.client.get(url).content.decode()
                self.assertNotIn("<script>alert", body)
                self.assertIn("&lt;script&gt;alert", body)

    def test_csrf_is_enforced(self):
        response = self.post_review(Client(enforce_csrf_checks=True), rating="4")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(review_count(), 1)


class WritingTests(SiteTestCase):
    def test_anonymous_review_has_no_author(self):
        response = self.post_review(text="Anonymous opinion", rating="4")
        self.assertRedirects(response, reverse("product", args=[self.product.pk]))
        review = find_review(text="Anonymous opinion")
        self.assertEqual(
            (review.product_id, review.author_id, review.rating),
            (self.product.pk, None, 4),
        )

    def test_logged_in_review_is_signed_by_the_user(self):
        user = get_user_model().objects.create_user("ada", password="pw")
        self.client.force_login(user)
        self.post_review(text="Signed opinion")
        review = find_review(text="Signed opinion")
        self.assertEqual((review.author_id, review.rating), (user.pk, None))
        page = self.client.get(reverse("review", args=[review.pk]))
        self.assertContains(page, "<strong>ada</strong>", html=True)

    def test_new_review_is_shown_at_once_to_its_writer(self):
        response = self.post_review(text="Seen at once", follow=True)
        self.assertContains(response, "Seen at once")
        self.assertContains(response, "your review is saved")


class ActivityPanelTests(SiteTestCase):
    def test_panel_lists_every_alias_in_demo_mode(self):
        body = self.client.get(reverse("products")).content.decode()
        self.assertIn("Database activity", body)
        for alias in self.databases_names():
            self.assertIn(f">{alias}</span>", body)

    @override_settings(DEMO_MODE=False)
    def test_no_panel_outside_demo_mode(self):
        body = Client().get(reverse("products")).content.decode()
        self.assertNotIn("Database activity", body)

    @override_settings(DEBUG=True)
    def test_djangos_debug_404_page_is_left_as_django_made_it(self):
        response = self.client.get("/products/999999/")
        self.assertEqual(response.status_code, 404)
        self.assertIn(b"Raised by:", response.content)  # Django's page
        self.assertNotIn(PANEL, response.content)

    def test_the_sites_own_404_page_has_the_panel(self):
        response = self.client.get("/products/999999/")  # DEBUG is off in tests
        self.assertEqual(response.status_code, 404)
        self.assertIn(PANEL, response.content)
        self.assertIn(b"site.css", response.content)
        self.assertIn(b"nothing at <code>/products/999999/</code>", response.content)

    @override_settings(DEBUG=True)
    def test_djangos_debug_500_page_is_left_as_django_made_it(self):
        def fail(request):
            try:
                raise ValueError("broken")
            except ValueError:
                return technical_500_response(request, *sys.exc_info())

        response = ActivityPanelMiddleware(fail)(RequestFactory().get("/"))
        self.assertEqual(response.status_code, 500)
        self.assertIn(b"broken", response.content)
        self.assertNotIn(PANEL, response.content)

    def test_activity_records_the_alias_that_answered(self):
        from django.db import connections

        activity = Activity()
        with activity.record():
            for alias in connections:
                with connections[alias].cursor() as cursor:
                    cursor.execute("SELECT 1")
        self.assertEqual([q.alias for q in activity.queries], list(connections))
        self.assertTrue(all(t.count == 1 for t in activity.totals()))

    @staticmethod
    def databases_names():
        from django.db import connections

        return list(connections)
