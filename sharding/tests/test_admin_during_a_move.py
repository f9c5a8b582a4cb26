"""The admin while a logical shard is frozen by rebalance: every write to it
answers 503 (try again), is rolled back whole, and changes nothing."""

from django.contrib.auth import get_user_model
from django.test import TransactionTestCase
from django.urls import reverse

from project import rebalance, shardmap
from project.models import LogicalShard
from project.shardkeys import logical_shard
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product

from .helpers import stored_reviews

FORM = {"author_id": "", "rating": "3", "created_0": "2026-01-01", "created_1": "0:00"}


class AdminDuringAMoveTests(TransactionTestCase):
    databases = "__all__"

    def setUp(self):
        self.product = make_product("P")
        self.review = Review.objects.create(product_id=self.product.pk, text="old")
        logical = logical_shard(self.product.pk)
        source = shardmap.alias_of(logical)
        user = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
        self.client.force_login(user)
        rebalance.set_state(source, logical, LogicalShard.State.FROZEN)
        self.addCleanup(rebalance.set_state, source, logical, LogicalShard.State.OWNED)
        self.before = stored_reviews()

    def assert_try_again_and_nothing_changed(self, response):
        self.assertContains(response, "being moved", status_code=503)
        self.assertEqual(response["Retry-After"], "2")
        self.assertEqual(stored_reviews(), self.before)
        self.assertTrue(Product.objects.filter(pk=self.product.pk).exists())

    def test_editing_a_review(self):
        url = reverse("admin:reviews_review_change", args=[self.review.pk])
        self.assert_try_again_and_nothing_changed(
            self.client.post(url, {**FORM, "text": "edited"})
        )

    def test_adding_a_review(self):
        url = reverse("admin:reviews_review_add")
        form = {**FORM, "product_id": str(self.product.pk), "text": "new"}
        self.assert_try_again_and_nothing_changed(self.client.post(url, form))

    def test_deleting_a_review(self):
        url = reverse("admin:reviews_review_delete", args=[self.review.pk])
        response = self.client.post(url, {"post": "yes"})
        self.assert_try_again_and_nothing_changed(response)

    def test_deleting_the_product_whose_reviews_are_moving(self):
        url = reverse("admin:products_product_delete", args=[self.product.pk])
        response = self.client.post(url, {"post": "yes"})
        self.assert_try_again_and_nothing_changed(response)
