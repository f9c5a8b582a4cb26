"""Demo data that looks real: products, reviewers and reviews; same seed, same data.

Products and users are unsaved model instances. Reviews are plain rows, made
and handed out a batch at a time: a million of them need no more memory than
a thousand, and no model instance each (Model.__init__ alone would cost more
than SQLite takes to store the row).
"""

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from faker import Faker

from reviewsite.products.models import Product

ADJECTIVES = [
    "Compact",
    "Wireless",
    "Ergonomic",
    "Stainless",
    "Foldable",
    "Solar",
    "Vintage",
    "Smart",
    "Rugged",
    "Quiet",
    "Heated",
    "Modular",
    "Classic",
    "Portable",
    "Ultralight",
    "Bamboo",
    "Cast-iron",
    "Waterproof",
]
NOUNS = [
    "Kettle",
    "Headphones",
    "Desk Lamp",
    "Backpack",
    "Coffee Grinder",
    "Keyboard",
    "Tent",
    "Water Bottle",
    "Blender",
    "Bike Light",
    "Notebook",
    "Chef's Knife",
    "Speaker",
    "Office Chair",
    "Camera Strap",
    "Teapot",
    "Sleeping Bag",
    "Monitor Stand",
    "Frying Pan",
    "Umbrella",
]
OPENERS = {
    1: ["Broke within a week.", "Would not buy again.", "Very disappointing."],
    2: ["Not great.", "It works, barely.", "Expected more for the price."],
    3: ["It does the job.", "Fine, nothing special.", "Mixed feelings."],
    4: ["Really good overall.", "Happy with it.", "Solid choice."],
    5: ["Absolutely love it!", "Best purchase this year.", "Perfect."],
    None: ["Some notes after a month of use.", "A few thoughts.", "My take."],
}
# How often each rating is given; None is a review without a rating.
RATING_WEIGHTS = {1: 5, 2: 8, 3: 15, 4: 35, 5: 30, None: 7}
ANONYMOUS_SHARE = 0.25
BATCH_SIZE = 2000


# A review to insert: the columns of Review but its id, in table order. Plain
# tuples: a million named tuples cost a second more to make.
REVIEW_COLUMNS = ("product_id", "author_id", "rating", "text", "created")
# (product_id, author_id or None, rating or None, text, created: a naive
# datetime in UTC, as databases keep it, so no row needs converting).
ReviewRow = tuple[int, int | None, int | None, str, datetime]
TEXTS_PER_RATING = 1000


class DemoData:
    """Makes products, users and reviews from one seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        # A pool of Faker sentences, sampled per review: Faker is too slow to
        # call once per review when there are a million of them.
        self.sentences = [self.fake.sentence(nb_words=12) for _ in range(500)]

    def products(self, count: int) -> list[Product]:
        names = [f"{a} {n}" for a in ADJECTIVES for n in NOUNS]
        self.rng.shuffle(names)
        return [
            Product(
                name=self.product_name(names, i),
                description=self.fake.paragraph(nb_sentences=4),
                price=Decimal(self.rng.randrange(499, 49999)) / 100,
            )
            for i in range(count)
        ]

    @staticmethod
    def product_name(names: list[str], i: int) -> str:
        """The i-th name; past the distinct names, models Mk 2, Mk 3..."""
        mark = i // len(names)
        return names[i % len(names)] + (f" Mk {mark + 1}" if mark else "")

    def users(self, count: int) -> list:
        user_model = get_user_model()
        unusable = make_password(None)
        return [
            user_model(
                username=self.fake.unique.user_name(),
                email=self.fake.unique.email(),
                first_name=self.fake.first_name(),
                last_name=self.fake.last_name(),
                password=unusable,
            )
            for _ in range(count)
        ]

    def reviews(
        self,
        count: int,
        product_ids: Sequence[int],
        author_ids: Sequence[int],
        end: datetime,
        days: int = 365,
    ) -> Iterator[list[ReviewRow]]:
        """``count`` reviews in batches, oldest first, over the ``days`` before
        ``end``. Random choices are drawn a batch at a time (``k=``): per row,
        a million calls of choices() cost seconds."""
        if count and not product_ids:
            raise ValueError("Reviews need at least one product.")
        rng = self.rng
        # A few products get most of the reviews, as on a real site.
        popular_first = list(product_ids)
        rng.shuffle(popular_first)
        by_popularity = list(
            accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(popular_first)))
        )
        ratings, weights = zip(*RATING_WEIGHTS.items(), strict=True)
        by_rating = list(accumulate(weights))
        texts = self.review_texts()
        step = timedelta(days=days) / max(count, 1)
        start = (end - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)
        random = rng.random  # int(random() * n): randint() costs 5 times more
        for first in range(0, count, BATCH_SIZE):
            size = min(BATCH_SIZE, count - first)
            products = rng.choices(popular_first, cum_weights=by_popularity, k=size)
            rated = rng.choices(ratings, cum_weights=by_rating, k=size)
            authors = rng.choices(author_ids, k=size) if author_ids else [None] * size
            yield [
                (
                    products[i],
                    None if random() < ANONYMOUS_SHARE else authors[i],
                    rated[i],
                    texts[rated[i]][int(random() * TEXTS_PER_RATING)],
                    start + step * (first + i + random()),
                )
                for i in range(size)
            ]

    def review_texts(self) -> dict[int | None, list[str]]:
        """Per rating, texts made of an opener for the rating and a run of 1 to
        5 pool sentences: drawn from per review, not made per review."""
        last_start = len(self.sentences) - 5
        return {
            rating: [
                " ".join((self.rng.choice(openers), *self.sentences[at : at + length]))
                for at, length in (
                    (self.rng.randint(0, last_start), self.rng.randint(1, 5))
                    for _ in range(TEXTS_PER_RATING)
                )
            ]
            for rating, openers in OPENERS.items()
        }
