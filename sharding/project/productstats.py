"""Per-product review figures kept by the database, on each shard.

A product page shows how many reviews its product has and their average.
Counting them on every view costs what the product has: 165,000 reviews
for the most popular product of the million-review demo, 40 ms. Triggers on
the reviews table keep one row per product (``models.ProductStats``) up to
date instead, in the transaction of the write, whatever makes it: ``save()``,
``bulk_create()``, ``QuerySet.update()`` and ``delete()``, raw SQL, and
``rebalance`` copying and deleting rows. The page reads one row. (Not
SQLite's ``INSERT OR REPLACE``, which deletes without firing delete
triggers; Django never issues it.)

The price is paid by writes: each inserted, changed or deleted review also
updates its product's row. A bulk load can skip that with ``suspended()``
and count everything once at the end.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connections, transaction

from reviewsite.reviews.models import Review
from reviewsite.web.stitch import ReviewStats

from .models import ProductStats
from .triggers import Triggers

REVIEWS = Review._meta.db_table
STATS = ProductStats._meta.db_table

# One trigger per event on SQLite (no FOR EACH STATEMENT, no shared function).
# An UPDATE takes the old row out and puts the new one in: its product or
# its rating may have changed. A product's row goes with its last review.
_ADD = f"""
    INSERT INTO {STATS} (product_id, reviews, rated, total)
    VALUES (NEW.product_id, 1, NEW.rating IS NOT NULL, COALESCE(NEW.rating, 0))
    ON CONFLICT (product_id) DO UPDATE SET
        reviews = {STATS}.reviews + 1,
        rated = {STATS}.rated + excluded.rated,
        total = {STATS}.total + excluded.total;"""
_REMOVE = f"""
    UPDATE {STATS} SET
        reviews = reviews - 1,
        rated = rated - (OLD.rating IS NOT NULL),
        total = total - COALESCE(OLD.rating, 0)
    WHERE product_id = OLD.product_id;
    DELETE FROM {STATS} WHERE product_id = OLD.product_id AND reviews = 0;"""
SQLITE = {
    "install": [
        f"CREATE TRIGGER {STATS}_insert AFTER INSERT ON {REVIEWS} BEGIN {_ADD} END",
        f"CREATE TRIGGER {STATS}_delete AFTER DELETE ON {REVIEWS} BEGIN {_REMOVE} END",
        f"CREATE TRIGGER {STATS}_update AFTER UPDATE OF product_id, rating "
        f"ON {REVIEWS} BEGIN {_REMOVE} {_ADD} END",
    ],
    "uninstall": [
        f"DROP TRIGGER IF EXISTS {STATS}_{event}"
        for event in ("insert", "delete", "update")
    ],
}
# PostgreSQL: one function for the three events. (TRUNCATE fires no row
# trigger; `flush` truncates the figures' table along with the reviews.)
POSTGRESQL = {
    "install": [
        f"""CREATE FUNCTION {STATS}_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                UPDATE {STATS} SET
                    reviews = reviews - 1,
                    rated = rated - (OLD.rating IS NOT NULL)::int,
                    total = total - COALESCE(OLD.rating, 0)
                WHERE product_id = OLD.product_id;
                DELETE FROM {STATS}
                WHERE product_id = OLD.product_id AND reviews = 0;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO {STATS} AS s (product_id, reviews, rated, total)
                VALUES (NEW.product_id, 1, (NEW.rating IS NOT NULL)::int,
                        COALESCE(NEW.rating, 0))
                ON CONFLICT (product_id) DO UPDATE SET
                    reviews = s.reviews + 1,
                    rated = s.rated + EXCLUDED.rated,
                    total = s.total + EXCLUDED.total;
            END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER {STATS}_count AFTER INSERT OR DELETE "
        f"OR UPDATE OF product_id, rating ON {REVIEWS} "
        f"FOR EACH ROW EXECUTE FUNCTION {STATS}_count()",
    ],
    "uninstall": [
        f"DROP TRIGGER IF EXISTS {STATS}_count ON {REVIEWS}",
        f"DROP FUNCTION IF EXISTS {STATS}_count()",
    ],
    # DROP TRIGGER would lock out readers too (ACCESS EXCLUSIVE) until the
    # load commits; DISABLE takes a lock that blocks writers only.
    "suspend": [f"ALTER TABLE {REVIEWS} DISABLE TRIGGER {STATS}_count"],
    "resume": [f"ALTER TABLE {REVIEWS} ENABLE TRIGGER {STATS}_count"],
}
TRIGGERS = Triggers(
    "review figures",
    {"sqlite": SQLITE, "postgresql": POSTGRESQL},
    {
        "sqlite": {f"{STATS}_{event}" for event in ("insert", "delete", "update")},
        "postgresql": {f"{STATS}_count"},
    },
)


def install(alias: str) -> None:
    """Create the triggers, then count the reviews already there."""
    TRIGGERS.run(alias, "install")
    recount(alias)


def uninstall(alias: str) -> None:
    TRIGGERS.run(alias, "uninstall")


def recount(alias: str) -> None:
    """Every product's figures counted afresh from its reviews: one pass."""
    with connections[alias].cursor() as cursor:
        cursor.execute(f"DELETE FROM {STATS}")
        cursor.execute(
            f"INSERT INTO {STATS} (product_id, reviews, rated, total) "
            f"SELECT product_id, COUNT(*), COUNT(rating), COALESCE(SUM(rating), 0) "
            f"FROM {REVIEWS} GROUP BY product_id"
        )


@contextmanager
def suspended(alias: str) -> Iterator[None]:
    """For a bulk load: no trigger per row, one recount at the end.

    All in one transaction, so no other writer's review goes uncounted: on
    SQLite the load holds the write lock throughout; on PostgreSQL, disabling
    the trigger keeps other writers (not readers) out until the commit.
    """
    postgresql = connections[alias].vendor == "postgresql"
    with transaction.atomic(using=alias):
        TRIGGERS.run(alias, "suspend" if postgresql else "uninstall")
        yield
        if postgresql:
            TRIGGERS.run(alias, "resume")
            recount(alias)
        else:
            install(alias)


def installed(alias: str) -> bool:
    return TRIGGERS.installed(alias)


def stats_on(alias: str, product_ids: Iterable[int]) -> dict[int, ReviewStats]:
    """The figures of these products' reviews on one shard: one query."""
    rows = ProductStats.objects.using(alias).filter(product_id__in=product_ids)
    return {
        row.product_id: ReviewStats(
            row.reviews, row.total / row.rated if row.rated else None
        )
        for row in rows
    }
