"""Demo data that looks real: products, reviewers and reviews; same seed, same data.

Everything is built in memory as unsaved model instances and handed out in
batches, so that a million reviews need no more memory than a thousand.
"""

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from faker import Faker

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review

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
    ) -> Iterator[Review]:
        """``count`` reviews, oldest first, spread over the ``days`` before ``end``."""
        if count and not product_ids:
            raise ValueError("Reviews need at least one product.")
        # A few products get most of the reviews, as on a real site.
        cum_weights = []
        total = 0.0
        for rank in range(len(product_ids)):
            total += 1 / (rank + 1) ** 0.8
            cum_weights.append(total)
        popular_first = list(product_ids)
        self.rng.shuffle(popular_first)
        ratings, rating_weights = zip(*RATING_WEIGHTS.items(), strict=True)
        step = timedelta(days=days) / max(count, 1)
        start = end - timedelta(days=days)
        for i in range(count):
            rating = self.rng.choices(ratings, rating_weights)[0]
            anonymous = not author_ids or self.rng.random() < ANONYMOUS_SHARE
            yield Review(
                product_id=self.rng.choices(popular_first, cum_weights=cum_weights)[0],
                author_id=None if anonymous else self.rng.choice(author_ids),
                rating=rating,
                text=" ".join(
                    [
                        self.rng.choice(OPENERS[rating]),
                        *self.rng.sample(self.sentences, self.rng.randint(1, 5)),
                    ]
                ),
                created=start + step * (i + self.rng.random()),
            )


def batched(items, size: int = BATCH_SIZE) -> Iterator[list]:
    """Lists of at most ``size`` items (itertools.batched is Python 3.12+)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
