"""The orphan sweep (reviewsite/reviews/orphans.py) through the overlay:
reviews from both of its sides, products and users as the overlay shows them
(a tombstone hides a snapshot product), and a snapshot orphan is removed with
a tombstone, since the snapshot itself is never written: the tombstone its
product's delete would have left, so that ``shadow_reset products.product``
brings it back with its product."""

from reviewsite.reviews.models import Review
from reviewsite.reviews.orphans import Orphans, Sweep

from .deep_pages import FastOverlay
from .overlay import bury


class OverlaySweep(Sweep):
    def review_places(self) -> dict:
        reviews = FastOverlay(Review)
        return {"local": reviews.local(), "snapshot": reviews.snapshot()}

    def existing(self, model, ids) -> set[int]:
        return set(FastOverlay(model).in_bulk(ids))

    def remove(self, orphans: Orphans) -> int:
        if orphans.place == "local":
            return super().remove(orphans)
        removed = 0
        for batch in orphans.batches():
            rows = list(batch.values_list("pk", "product_id"))
            for key, product_id in rows:
                # As if buried with its product: resetting products brings it back.
                bury(Review, [key], cause=f"products.product {product_id}")
            removed += len(rows)
        return removed
