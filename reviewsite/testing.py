"""Test helpers every pattern project's tests use (imported by the tests)."""

from decimal import Decimal

from django.db import connections

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
