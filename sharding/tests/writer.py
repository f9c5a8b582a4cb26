"""One of the site's writers, in a process of its own, while a test moves
logical shards: it creates, edits and deletes reviews of its own, and records
each write the database acknowledged, one JSON line each, so that the test
can find every one of them, with its last content (a Jepsen-style history).

    manage.py shell -c "from tests.writer import main; main(name, log, stop)"
"""

import json
import random
import time
from pathlib import Path

from django.db import DatabaseError

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review


def main(name: str, log: str, stop: str, seed: int = 0) -> None:
    rng = random.Random(f"{name}{seed}")
    products = list(Product.objects.values_list("pk", flat=True))
    mine: list[int] = []
    with open(log, "a") as out:
        for n in range(1_000_000):
            if Path(stop).exists():
                break
            try:
                record = write(rng, name, n, products, mine)
            except DatabaseError:
                continue  # refused (503 on the site): not acknowledged
            out.write(json.dumps(record) + "\n")
            out.flush()
            time.sleep(0.005)  # a site, not a benchmark: room for the move


def write(rng, name: str, n: int, products: list[int], mine: list[int]) -> list:
    action = rng.choice(["create"] * 3 + ["edit", "delete"]) if mine else "create"
    if action == "create":
        review = Review.objects.create(
            product_id=rng.choice(products), text=f"{name} {n}"
        )
        mine.append(review.pk)
        return ["create", review.pk, review.text]
    review_id = rng.choice(mine)
    if action == "edit":
        text = f"{name} {n} edited"
        found = Review.objects.filter(pk=review_id).update(text=text)
        return ["edit", review_id, text] if found else ["missing", review_id, None]
    found, _ = Review.objects.filter(pk=review_id).delete()
    mine.remove(review_id)
    return ["delete", review_id, None] if found else ["missing", review_id, None]


def expected(initial: dict[int, str], logs: list[Path]) -> tuple[dict, list]:
    """The reviews there must be after the writers' acknowledged writes, and
    any write that found its own review missing."""
    reviews, missing = dict(initial), []
    for log in logs:
        for line in log.read_text().splitlines():
            action, review_id, text = json.loads(line)
            if action == "missing":
                missing.append(review_id)
            elif action == "delete":
                del reviews[review_id]
            else:
                reviews[review_id] = text
    return reviews, missing
