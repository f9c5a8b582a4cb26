"""Test helpers every pattern project's tests use (imported by the tests)."""

import unittest
from decimal import Decimal
from html.parser import HTMLParser

from django.db import connections, router

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review


def make_product(name: str = "Solar Kettle", **fields) -> Product:
    fields.setdefault("price", Decimal("19.99"))
    return Product.objects.create(name=name, **fields)


def make_review(product: Product, text: str = "Works well.", **fields) -> Review:
    return Review.objects.create(product_id=product.pk, text=text, **fields)


def table_exists(alias: str, model) -> bool:
    """Is the model's table in this database? Asks the database itself."""
    return model._meta.db_table in connections[alias].introspection.table_names()


def raw_count(alias: str, model, **where) -> int:
    """Rows in the model's table on this alias, by SQL: no router involved."""
    sql = f'SELECT COUNT(*) FROM "{model._meta.db_table}"'
    if where:
        sql += " WHERE " + " AND ".join(f'"{column}" = %s' for column in where)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, list(where.values()))
        return cursor.fetchone()[0]


def review_databases() -> list[str]:
    """The aliases where reviews are stored: where the router lets them migrate.

    (A replica holds copies, not stored reviews: replication migrates only
    the primary.)
    """
    return [alias for alias in connections if router.allow_migrate_model(alias, Review)]


def review_count(**where) -> int:
    """Reviews stored in every database, by SQL: no router involved."""
    return sum(raw_count(alias, Review, **where) for alias in review_databases())


def find_review(**where) -> Review:
    """The one stored review matching ``where``, wherever it is stored."""
    found = [
        review
        for alias in review_databases()
        for review in Review.objects.using(alias).filter(**where)
    ]
    assert len(found) == 1, f"{len(found)} reviews match {where}"
    return found[0]


# Tests that run the project's commands in other processes on scratch SQLite
# files (SQLITE_DIR): with DATABASE_URL_* set, those would use the real
# databases, so they run on SQLite only.
on_sqlite_only = unittest.skipUnless(
    all(connections[alias].vendor == "sqlite" for alias in connections),
    "runs on scratch SQLite files in other processes",
)


class _FormValues(HTMLParser):
    """The values a browser would send for the form with the given id, untouched."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.select = self.textarea = None
        self.values: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and name and attrs.get("type") not in {"submit", "file"}:
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.values.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "select":
            self.select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in attrs:
            self.values[self.select].append(attrs.get("value") or "")
        elif tag == "textarea":
            self.textarea = name
            self.values[name] = [""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            # A browser drops the newline that follows <textarea>.
            text = self.values[self.textarea][0]
            self.values[self.textarea][0] = text.removeprefix("\n")
            self.textarea = None

    def handle_data(self, data):
        if self.textarea and self.inside:
            self.values[self.textarea][0] += data


def form_values(html: str, form_id: str) -> dict[str, list[str]]:
    """What submitting the form ``form_id`` of this page as it is would send."""
    parser = _FormValues(form_id)
    parser.feed(html)
    return parser.values
