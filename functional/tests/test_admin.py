"""The admin reads and writes reviews in the ``reviews`` database."""

from django.test import TestCase
from django.urls import reverse

from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count


class ReviewAdminTests(TestCase):
    databases = {"default", "reviews"}

    @classmethod
    def setUpTestData(cls):
        from django.contrib.auth import get_user_model

        cls.admin = get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        cls.product = make_product()

    def setUp(self):
        self.client.force_login(self.admin)

    def form(self, **changes):
        data = {
            "product_id": self.product.pk,
            "author_id": "",
            "rating": "4",
            "text": "From the admin",
            "created_0": "2026-01-02",
            "created_1": "10:00:00",
        }
        data.update(changes)
        return data

    def test_add_lands_in_reviews(self):
        response = self.client.post(reverse("admin:reviews_review_add"), self.form())
        self.assertEqual(response.status_code, 302, response.content[:2000])
        self.assertEqual(raw_count("reviews", Review, text="From the admin"), 1)

    def test_add_refuses_a_product_that_does_not_exist(self):
        url = reverse("admin:reviews_review_add")
        response = self.client.post(url, self.form(product_id=424242))
        self.assertContains(response, "There is no product with id 424242.")
        self.assertEqual(raw_count("reviews", Review), 0)

    def test_change_lands_in_reviews(self):
        review = make_review(self.product, text="Before")
        url = reverse("admin:reviews_review_change", args=[review.pk])
        response = self.client.post(url, self.form(text="After"))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(raw_count("reviews", Review, text="After"), 1)
        self.assertEqual(raw_count("reviews", Review, text="Before"), 0)

    def test_delete_removes_from_reviews(self):
        review = make_review(self.product)
        url = reverse("admin:reviews_review_delete", args=[review.pk])
        response = self.client.post(url, {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(raw_count("reviews", Review), 0)

    def test_changelist_fetches_products_and_authors_once_per_page(self):
        for n in range(25):
            make_review(self.product, author_id=self.admin.pk if n % 2 else None)
        url = reverse("admin:reviews_review_changelist")
        # reviews: count and page. default: session, user, products, authors.
        with (
            self.assertNumQueries(2, using="reviews"),
            self.assertNumQueries(4, using="default"),
        ):
            response = self.client.get(url)
        self.assertContains(response, self.product.name, count=25)
