"""Pages stitch the two databases together with a fixed number of queries each."""

from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import reverse

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review, raw_count, table_exists


class QueriesPerDatabaseTests(TestCase):
    """Queries per alias do not grow with the rows a page shows."""

    databases = {"default", "reviews"}

    @classmethod
    def setUpTestData(cls):
        authors = [
            get_user_model().objects.create_user(f"reviewer{n}") for n in range(3)
        ]
        cls.products = [make_product(f"Product {n}") for n in range(5)]
        for n in range(30):
            make_review(
                cls.products[n % 5],
                author_id=authors[n % 3].pk if n % 4 else None,
                rating=n % 5 + 1,
            )
        cls.review = Review.objects.first()

    def assert_queries(self, url, default, reviews):
        with (
            self.assertNumQueries(default, using="default"),
            self.assertNumQueries(reviews, using="reviews"),
        ):
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)

    def test_product_list(self):
        # default: count and page of products. reviews: one grouped aggregate.
        self.assert_queries(reverse("products"), default=2, reviews=1)

    def test_product_page(self):
        # default: the product, the authors. reviews: stats, one page of reviews.
        url = reverse("product", args=[self.products[0].pk])
        self.assert_queries(url, default=2, reviews=2)

    def test_latest_reviews(self):
        # reviews: count and page. default: the products, the authors.
        self.assert_queries(reverse("latest_reviews"), default=2, reviews=2)

    def test_one_review(self):
        url = reverse("review", args=[self.review.pk])
        self.assert_queries(url, default=2 if self.review.author_id else 1, reviews=1)

    def test_writing_a_review(self):
        url = reverse("write_review", args=[self.products[0].pk])
        with (
            self.assertNumQueries(1, using="default"),  # the product exists
            # Django checks the rating's CHECK constraint with a query in a
            # savepoint, on the database the review is written to; then INSERT.
            self.assertNumQueries(4, using="reviews"),
        ):
            self.client.post(url, {"text": "Counted.", "rating": "5"})


class WhereReviewsLandTests(TestCase):
    databases = {"default", "reviews"}

    def test_review_written_through_the_site_is_stored_only_in_reviews(self):
        product = make_product()
        self.client.post(
            reverse("write_review", args=[product.pk]),
            {"text": "Where am I?", "rating": "3"},
        )
        self.assertEqual(raw_count("reviews", Review, text="Where am I?"), 1)
        self.assertFalse(table_exists("default", Review))

    def test_products_stay_in_default(self):
        make_product()
        self.assertEqual(raw_count("default", Product), 1)
        self.assertFalse(table_exists("reviews", Product))

    def test_deleting_a_product_deletes_its_reviews_in_the_other_database(self):
        product, other = make_product(), make_product("Other")
        make_review(product)
        make_review(other)
        product.delete()
        self.assertEqual(raw_count("reviews", Review, product_id=product.pk), 0)
        self.assertEqual(raw_count("reviews", Review, product_id=other.pk), 1)
