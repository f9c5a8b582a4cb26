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
from typing import NamedTuple

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


class ReviewRow(NamedTuple):
    """A review to insert: the columns of Review but its id, in table order."""

    product_id: int
    author_id: int | None
    rating: int | None
    text: str
    created: datetime  # naive, in UTC: as databases keep it, with no per-row work


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
        # A text is an opener for its rating and a run of 1 to 5 pool sentences.
        sentences, last_start = self.sentences, len(self.sentences) - 5
        step = timedelta(days=days) / max(count, 1)
        start = (end - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)
        random = rng.random  # int(random() * n): randint() costs 5 times more
        for first in range(0, count, BATCH_SIZE):
            size = min(BATCH_SIZE, count - first)
            products = rng.choices(popular_first, cum_weights=by_popularity, k=size)
            rated = rng.choices(ratings, cum_weights=by_rating, k=size)
            authors = rng.choices(author_ids, k=size) if author_ids else [None] * size
            batch = []
            for i in range(size):
                rating, at = rated[i], int(random() * (last_start + 1))
                opener = OPENERS[rating][int(random() * len(OPENERS[rating]))]
                text = " ".join((opener, *sentences[at : at + 1 + int(random() * 5)]))
                batch.append(
                    ReviewRow(
                        products[i],
                        None if random() < ANONYMOUS_SHARE else authors[i],
                        rating,
                        text,
                        start + step * (first + i + random()),
                    )
                )
            yield batch
