"""``manage.py setup_demo``: create, migrate and fill every database of a project.

Every pattern project has this command with the same flags. A project whose
pattern needs more (replicate, shard, snapshot) subclasses ``Command`` and
overrides the step that differs; handle() stays the same recipe.
"""

import argparse
import re
from collections.abc import Iterable, Sequence
from contextlib import ExitStack

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone
from tqdm import tqdm

from reviewsite.demo_data import REVIEW_COLUMNS, DemoData, ReviewRow
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review

MAX_ROWS = 10_000_000
DEFAULT_ADDR = "127.0.0.1:8000"  # runserver's, and make demo's ADDR
PROGRESS_FROM = 10_000  # rows; below this a progress bar is just noise


def insert_reviews(alias: str, rows: Sequence[tuple], with_ids: bool = False) -> None:
    """``rows`` (ReviewRow, after an id if ``with_ids``) inserted by one INSERT
    of many rows, run again and again: no model instance, no query compiled
    per batch as bulk_create() does. Many rows a statement, so that the
    database spends its time storing rows, not starting statements, and,
    while it does, other threads run Python (sqlite3 lets go of the GIL per
    statement, not per row).
    """
    connection = connections[alias]
    fields = [Review._meta.get_field(name) for name in REVIEW_COLUMNS]
    if with_ids:
        fields.insert(0, Review._meta.pk)
    width = len(fields)
    per_statement = min(500, (connection.features.max_query_params or 65535) // width)

    def insert(count: int) -> str:
        row = "({})".format(", ".join(["%s"] * width))
        return "INSERT INTO {} ({}) VALUES {}".format(
            connection.ops.quote_name(Review._meta.db_table),
            ", ".join(connection.ops.quote_name(f.column) for f in fields),
            ", ".join([row] * count),
        )

    adapt = connection.ops.adapt_datetimefield_value
    values = [v for row in rows for v in (*row[:-1], adapt(row[-1]))]
    chunk = per_statement * width
    whole = len(values) // chunk * chunk
    with connection.cursor() as cursor:
        if whole:
            statements = (values[i : i + chunk] for i in range(0, whole, chunk))
            cursor.executemany(insert(per_statement), statements)
        if whole < len(values):
            cursor.execute(insert((len(values) - whole) // width), values[whole:])


def row_count(value: str) -> int:
    """argparse type: a whole number from 0 to MAX_ROWS."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= number <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"{number} is not between 0 and {MAX_ROWS:,}")
    return number


def site_url(addrport: str) -> str:
    """The URL that ``runserver addrport`` serves, as runserver reads its
    argument (with its own pattern) and announces it."""
    match = re.match(naiveip_re, addrport)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{addrport!r} is not what runserver takes: a port (8001) or an "
            "address and a port (0.0.0.0:8000)"
        )
    address = match["addr"] or "127.0.0.1"  # a port alone: runserver's default
    if address == "0":  # runserver's shorthand
        address = "0.0.0.0"
    return f"http://{address}:{match['port']}/"


def addrport(value: str) -> str:
    """argparse type: an address and port that runserver takes (site_url
    says why not)."""
    site_url(value)
    return value


class Command(BaseCommand):
    help = "Create every database of this project and fill it with demo data."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=row_count, default=40)
        parser.add_argument("--users", type=row_count, default=25)
        parser.add_argument("--reviews", type=row_count, default=400)
        parser.add_argument(
            "--seed", type=int, default=2010, help="Same seed, same data."
        )
        parser.add_argument(
            "--flush", action="store_true", help="Delete all data first."
        )
        parser.add_argument(
            "--addr",
            default=DEFAULT_ADDR,
            type=addrport,
            help="What you will give runserver (make demo's ADDR), for the last "
            "line: the URL to open.",
        )

    def handle(self, *args, products, users, reviews, seed, flush, addr, **options):
        if reviews and not products:
            raise CommandError("--reviews needs at least one product: --products 1.")
        for alias in self.databases_to_migrate():
            self.migrate(alias)
        if flush:
            self.flush()
        self.create_admin()
        if self.has_data():
            self.step("Demo data is already there (use --flush to start over).")
        else:
            self.populate(products, users, reviews, seed)
        self.after_populate()
        self.print_summary(addr)

    # The steps. A pattern project overrides the ones its pattern changes.

    def databases_to_migrate(self) -> list[str]:
        """Every alias: the router's allow_migrate decides what goes where."""
        return list(connections)

    def databases_written(self) -> list[str]:
        return self.databases_to_migrate()

    def migrate(self, alias: str) -> None:
        self.create_database(alias)
        self.step(f"Migrating {alias}")
        call_command("migrate", database=alias, interactive=False, verbosity=0)

    def create_database(self, alias: str) -> None:
        """SQLite makes its file on first use; a PostgreSQL database is made here."""
        connection = connections[alias]
        if connection.vendor != "postgresql":
            return
        name = connection.settings_dict["NAME"]
        # Connected to the server's maintenance database, as Django's own test
        # database creation is: the database we want may not exist yet.
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
                self.step(f"Created the PostgreSQL database {name}")

    def flush(self) -> None:
        for alias in self.databases_written():
            self.step(f"Flushing {alias}")
            call_command("flush", database=alias, interactive=False, verbosity=0)

    def create_admin(self) -> None:
        if not settings.DEMO_MODE:
            self.step("Not in demo mode: no admin account (use createsuperuser).")
            return
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "admin@example.com", "admin")
            self.step("Created the admin account: admin / admin")

    def has_data(self) -> bool:
        """Products and reviews are made together: products say it was done."""
        return Product.objects.exists()

    def populate(self, products: int, users: int, reviews: int, seed: int) -> None:
        """All or nothing: one transaction per database, rolled back together."""
        data = DemoData(seed)
        with ExitStack() as stack:
            for alias in self.databases_filled_atomically():
                stack.enter_context(transaction.atomic(using=alias))
            product_ids = self.save_products(data.products(products))
            author_ids = self.save_users(data.users(users))
            self.step(f"Created {products} products and {users} users")
            batches = data.reviews(reviews, product_ids, author_ids, end=timezone.now())
            with tqdm(
                total=reviews,
                unit=" reviews",
                disable=True if reviews < PROGRESS_FROM else None,
            ) as progress:
                self.save_reviews(batches, reviews, progress)
            self.step(f"Created {reviews} reviews")
        for alias in self.databases_written():
            self.vacuum(alias)

    def vacuum(self, alias: str) -> None:
        """PostgreSQL, after a bulk load: the planner's statistics, and the
        visibility map that lets a count read an index only (autovacuum
        would get there minutes later). Not inside a transaction (a test's),
        where PostgreSQL refuses it."""
        connection = connections[alias]
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE)")
            self.step(f"Vacuumed and analyzed {alias}")

    def databases_filled_atomically(self) -> list[str]:
        """The databases populate() writes in one transaction each."""
        return self.databases_written()

    def save_products(self, products: list[Product]) -> list[int]:
        return [p.pk for p in Product.objects.bulk_create(products)]

    def save_users(self, users: list) -> list[int]:
        return [u.pk for u in get_user_model().objects.bulk_create(users)]

    def save_reviews(
        self, batches: Iterable[list[ReviewRow]], count: int, progress: tqdm
    ) -> None:
        """``count`` reviews, in batches; ``progress`` is told of each batch."""
        alias = self.reviews_database()
        for rows in batches:
            insert_reviews(alias, rows)
            progress.update(len(rows))

    def reviews_database(self) -> str:
        """Where save_reviews() writes: where the router writes reviews."""
        return router.db_for_write(Review)

    def after_populate(self) -> None:
        """Nothing here; replication copies the primary to its replicas."""

    def print_summary(self, addr: str = DEFAULT_ADDR) -> None:
        self.step("Rows per database:")
        for alias in connections:
            try:
                counts = self.row_counts(alias)
            except DatabaseError as error:  # a replica or shard that is not there
                self.stdout.write(f"  {alias:<12} unreachable: {error}")
                continue
            listed = ", ".join(f"{n:,} {name}" for name, n in counts.items())
            self.stdout.write(f"  {alias:<12} {listed or 'no demo tables'}")
        login = " (admin: admin / admin)" if settings.DEMO_MODE else ""
        runserver = "runserver" if addr == DEFAULT_ADDR else f"runserver {addr}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Ready. Run `python manage.py {runserver}` and open "
                f"{site_url(addr)}{login}."
            )
        )

    def row_counts(self, alias: str) -> dict[str, int]:
        """Rows of each demo model whose table exists in this database."""
        tables = set(connections[alias].introspection.table_names())
        models = [Product, get_user_model(), Review]
        return {
            model._meta.verbose_name_plural: model.objects.using(alias).count()
            for model in models
            if model._meta.db_table in tables
        }

    def step(self, message: str) -> None:
        self.stdout.write(message)
