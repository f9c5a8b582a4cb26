"""Bad input never gives a server error: fuzzed ids, paths and forms (hypothesis).

The test client re-raises any exception a view lets escape, so a 500 fails
the test with its traceback.
"""

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from reviewsite.testing import make_product, review_count

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe="")),
)
ratings = st.one_of(
    st.none(),
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.text(max_size=20),
)
texts = st.one_of(st.none(), st.text(max_size=6000))


class FuzzTests(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.product = make_product()

    @FUZZ
    @given(ids)
    def test_any_id_in_a_url_gives_200_or_404(self, value):
        for url in [f"/products/{value}/", f"/reviews/{value}/"]:
            response = self.client.get(url)
            self.assertIn(response.status_code, {200, 301, 404}, url)

    @FUZZ
    @given(st.text(max_size=30))
    def test_any_page_number_or_cursor_gives_200_or_404(self, page):
        for url in ["/", "/reviews/", f"/products/{self.product.pk}/"]:
            # ``before`` is sharding's cursor; the other projects ignore it.
            response = self.client.get(url, {"page": page, "before": page})
            self.assertIn(response.status_code, {200, 404}, (url, page))

    @FUZZ
    @given(rating=ratings, text=texts)
    def test_any_review_form_is_saved_or_refused_with_errors(self, rating, text):
        data = {
            k: v for k, v in {"rating": rating, "text": text}.items() if v is not None
        }
        before = review_count()
        response = self.client.post(f"/products/{self.product.pk}/review/", data)
        if response.status_code == 302:
            self.assertEqual(review_count(), before + 1)
        else:
            self.assertEqual(response.status_code, 200)
            self.assertTrue(response.context["form"].errors)
            self.assertEqual(review_count(), before)
