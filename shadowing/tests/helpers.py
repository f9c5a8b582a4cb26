import hashlib
import threading
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.db import connections
from django.test import TransactionTestCase

from project.management.commands.take_snapshot import sqlite_file
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review

ALL = {"default", "snapshot", "production"}


def snapshot_sha256() -> str:
    """The snapshot's file, hashed; on PostgreSQL, its rows."""
    connection = connections["snapshot"]
    if connection.vendor == "sqlite":
        return hashlib.sha256(sqlite_file("snapshot").read_bytes()).hexdigest()
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for table in ["products_product", "reviews_review", "auth_user"]:
            cursor.execute(
                "SELECT COALESCE(string_agg(t::text, '|' ORDER BY t.id), '')"
                f' FROM "{table}" t'
            )
            digest.update(cursor.fetchone()[0].encode())
    return digest.hexdigest()


def run(*args) -> str:
    """A management command's output."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def take_snapshot_elsewhere() -> None:
    """As another process would: its own connections, ours left open. (On
    PostgreSQL, here: the swap drops the old database and its sessions, and
    the test databases are known by name to this thread's connections only.)"""
    if connections["snapshot"].vendor == "postgresql":
        call_command("take_snapshot", stdout=StringIO())
        connections.close_all()  # as the next request does: sessions were ended
        return

    def go():
        try:
            call_command("take_snapshot", stdout=StringIO())
        finally:
            connections.close_all()

    thread = threading.Thread(target=go)
    thread.start()
    thread.join()


def publish(products: int = 6, reviews_each: int = 2) -> None:
    """Fill production, then snapshot it: the data a developer starts from."""
    made = Product.objects.using("production").bulk_create(
        Product(name=f"Snap {n}", price=Decimal(10 + n)) for n in range(products)
    )
    Review.objects.using("production").bulk_create(
        Review(product_id=p.pk, text=f"snap review {p.pk}.{k}", rating=k % 5 + 1)
        for p in made
        for k in range(reviews_each)
    )
    call_command("take_snapshot", stdout=open("/dev/null", "w"))  # noqa: SIM115


class SnapshotTestCase(TransactionTestCase):
    """Committed production data, snapshotted once for the class; each test
    starts with an empty local database over it."""

    databases = ALL

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        publish()

    @classmethod
    def tearDownClass(cls):
        for alias in ["production"]:
            Review.objects.using(alias).all().delete()
            Product.objects.using(alias).all().delete()
        call_command("take_snapshot", stdout=open("/dev/null", "w"))  # noqa: SIM115
        super().tearDownClass()
