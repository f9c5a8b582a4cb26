"""Orphan reviews: reviews whose product is gone.

A review refers to its product by id, across databases, where no foreign key
can hold: a product deleted while its review was being written, a cascade
that failed after the product's delete had committed, a review posted from a
lagging replica's view of a product. Nothing prevents these, so a sweep finds
them: each place reviews are stored is read once for the product ids it
refers to, and those are looked up where products are written.

A review whose author is gone is no orphan: the site shows it as written by
"a deleted user", on purpose. The sweep counts them, and leaves them.

The default sweep reads every database the router migrates reviews to
(functional: ``reviews``; replication: the primary). A project whose reviews
are stored otherwise names its own sweep with ORPHAN_SWEEP (sharding: the rows
each shard owns; shadowing: both sides of its overlay).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connections, router
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from reviewsite.products.models import Product

from .models import Review

BATCH = 500  # ids per query: under every engine's limit on query parameters


@dataclass
class Orphans:
    """The orphan reviews of one place reviews are stored."""

    place: str  # a database alias (shadowing: a side of the overlay)
    stored: QuerySet  # the reviews of that place
    missing_products: list[int] = field(default_factory=list)
    missing_authors: list[int] = field(default_factory=list)

    def batches(self) -> Iterator[QuerySet]:
        """The orphans, a few hundred product ids per query."""
        for ids in chunks(self.missing_products):
            yield self.stored.filter(product_id__in=ids)

    def count(self) -> int:
        return sum(batch.count() for batch in self.batches())

    def by_deleted_users(self) -> int:
        """Reviews whose author is gone: shown as "a deleted user", kept."""
        return sum(
            self.stored.filter(author_id__in=ids).count()
            for ids in chunks(self.missing_authors)
        )


class Sweep:
    """Where reviews are stored, where products are looked for, and how an
    orphan is removed. Projects override these three, nothing else."""

    def review_places(self) -> dict[str, QuerySet]:
        """Every place reviews are stored: the databases the router puts them in."""
        return {
            alias: Review.objects.using(alias)
            for alias in connections
            if router.allow_migrate_model(alias, Review)
        }

    def existing(self, model, ids: list[int]) -> set[int]:
        """Which of ``ids`` exist, read where the model is written: never a
        replica that may still hold a deleted product."""
        rows = model._default_manager.db_manager(router.db_for_write(model))
        return set(rows.filter(pk__in=ids).values_list("pk", flat=True))

    def remove(self, orphans: Orphans) -> int:
        return sum(batch.delete()[0] for batch in orphans.batches())

    def find(self, databases: Iterable[str] | None = None) -> list[Orphans]:
        """What is missing, for each place (of ``databases`` only, if given)."""
        found = []
        for place, stored in self.review_places().items():
            if databases is None or stored.db in databases:
                found.append(self.look(place, stored))
        return found

    def look(self, place: str, stored: QuerySet) -> Orphans:
        products = self.missing(Product, distinct(stored, "product_id"))
        authors = self.missing(get_user_model(), distinct(stored, "author_id"))
        return Orphans(place, stored, products, authors)

    def missing(self, model, ids: set[int]) -> list[int]:
        ordered, present = sorted(ids), set()
        for batch in chunks(ordered):
            present |= self.existing(model, batch)
        return [key for key in ordered if key not in present]


def chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


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
    and on ``migrate``; warnings, so that migrate still runs."""
    from django.core.checks import Warning

    if not databases or not reviews_table_in(databases):
        return []  # not asked, or not migrated yet
    try:
        counted = [(orphans, orphans.count()) for orphans in sweep().find(databases)]
    except DatabaseError as error:
        return [
            Warning(
                f"Could not look for orphan reviews: {error}",
                hint="python manage.py find_orphans, once the databases answer.",
                id="reviews.W002",
            )
        ]
    return [
        Warning(
            f"{count} reviews in {orphans.place} belong to products "
            f"that do not exist (ids {orphans.missing_products[:5]}...).",
            hint="python manage.py find_orphans lists them; --delete removes them.",
            id="reviews.W001",
        )
        for orphans, count in counted
        if count
    ]


def reviews_table_in(databases: Iterable[str]) -> bool:
    """Does any of these databases hold the review table yet?"""
    for alias in databases:
        try:
            if Review._meta.db_table in connections[alias].introspection.table_names():
                return True
        except DatabaseError:
            return True  # unreachable: the sweep says so
    return False
