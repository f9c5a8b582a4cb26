"""Orphan reviews: reviews whose product or author is gone.

A review refers to its product and author by id, across databases, where no
foreign key can hold: a product deleted while its review was being written,
a cascade that failed after the product's delete had committed, a review
posted from a lagging replica's view of a product. Nothing prevents these, so
a sweep finds them: each place reviews are stored is read once for the ids it
refers to, and those ids are looked up where products and users are written.

The default sweep reads every database the router migrates reviews to
(functional: ``reviews``; replication: the primary; sharding: each shard). A
project whose reviews come from somewhere else names its own sweep with
ORPHAN_SWEEP (shadowing: both sides of its overlay).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connections, router
from django.db.models import Q, QuerySet
from django.utils.module_loading import import_string

from reviewsite.products.models import Product

from .models import Review

BATCH = 500  # ids per lookup: under every engine's limit on query parameters


@dataclass
class Orphans:
    """The orphan reviews of one place reviews are stored."""

    place: str  # a database alias (shadowing: a side of the overlay)
    reviews: QuerySet  # the orphans, as a query: delete() removes them
    missing_products: set[int] = field(default_factory=set)
    missing_authors: set[int] = field(default_factory=set)


class Sweep:
    """Where reviews are stored, and where their products and authors are
    looked for. Projects override the two places, nothing else."""

    def review_places(self) -> dict[str, QuerySet]:
        """Every place reviews are stored: the databases the router puts them in."""
        return {
            alias: Review.objects.using(alias)
            for alias in connections
            if router.allow_migrate_model(alias, Review)
        }

    def existing(self, model, ids: Iterable[int]) -> set[int]:
        """Which of ``ids`` exist, read where the model is written: never a
        replica that may still hold a deleted product."""
        rows = model._default_manager.db_manager(router.db_for_write(model))
        return set(rows.filter(pk__in=ids).values_list("pk", flat=True))

    def remove(self, orphans: Orphans) -> int:
        return orphans.reviews.delete()[0]

    def find(self, databases: Iterable[str] | None = None) -> list[Orphans]:
        """The orphans of each place (of ``databases`` only, if given)."""
        found = []
        for place, reviews in self.review_places().items():
            if databases is not None and reviews.db not in databases:
                continue
            orphans = self.orphans_in(place, reviews)
            if orphans.missing_products or orphans.missing_authors:
                found.append(orphans)
        return found

    def orphans_in(self, place: str, reviews: QuerySet) -> Orphans:
        products = self.missing(Product, distinct(reviews, "product_id"))
        authors = self.missing(get_user_model(), distinct(reviews, "author_id"))
        where = Q(product_id__in=products) | Q(author_id__in=authors)
        return Orphans(place, reviews.filter(where), products, authors)

    def missing(self, model, ids: set[int]) -> set[int]:
        ordered, present = sorted(ids), set()
        for start in range(0, len(ordered), BATCH):
            present |= self.existing(model, ordered[start : start + BATCH])
        return ids - present


def distinct(reviews: QuerySet, column: str) -> set[int]:
    ids = reviews.order_by().values_list(column, flat=True).distinct()
    return {value for value in ids if value is not None}


def sweep() -> Sweep:
    """The project's sweep (ORPHAN_SWEEP), or the default one."""
    path = getattr(settings, "ORPHAN_SWEEP", "reviewsite.reviews.orphans.Sweep")
    return import_string(path)()


def no_orphan_reviews(app_configs=None, databases=None, **kwargs) -> list:
    """System check, tagged "database": it reads the data, so it runs only
    when asked (``manage.py check --database default --database reviews``)
    and on ``migrate``; a warning, so that migrate still runs."""
    from django.core.checks import Warning

    if not databases:
        return []
    try:
        found = sweep().find(databases)
    except DatabaseError:  # no tables yet (before the first migrate)
        return []
    return [
        Warning(
            f"{orphans.reviews.count()} reviews in {orphans.place} refer to a "
            f"product or author that does not exist (products "
            f"{sorted(orphans.missing_products)[:5]}, authors "
            f"{sorted(orphans.missing_authors)[:5]}).",
            hint="python manage.py find_orphans lists them; --delete removes them.",
            id="reviews.W001",
        )
        for orphans in found
    ]
