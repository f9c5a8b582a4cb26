"""The orphan sweep (reviewsite/reviews/orphans.py) through the overlay:
reviews from both of its sides, products and users as the overlay shows them
(a tombstone hides a snapshot product), and a snapshot orphan is removed with
a tombstone, since the snapshot itself is never written."""

from reviewsite.reviews.models import Review
from reviewsite.reviews.orphans import Orphans, Sweep

from .overlay import Overlay, bury


class OverlaySweep(Sweep):
    def review_places(self) -> dict:
        reviews = Overlay(Review)
        return {"local": reviews.local(), "snapshot": reviews.snapshot()}

    def existing(self, model, ids) -> set[int]:
        return set(Overlay(model).in_bulk(ids))

    def remove(self, orphans: Orphans) -> int:
        if orphans.place == "local":
            return super().remove(orphans)
        keys = list(orphans.reviews.values_list("pk", flat=True))
        bury(Review, keys, cause="orphan")
        return len(keys)
