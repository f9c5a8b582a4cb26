"""The overlay: snapshot rows plus local changes, proved against an oracle, and a
snapshot that no write ever reaches."""

import json
from decimal import Decimal
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TransactionTestCase as HypothesisTransactionTestCase

from project.deep_pages import FastOverlay
from project.models import Tombstone
from project.overlay import Overlay
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import on_sqlite_only, raw_count

from .helpers import ALL, SnapshotTestCase, publish, snapshot_sha256


def visible(overlay) -> list[tuple]:
    return [(p.pk, p.name, p.price) for p in overlay]


class OverlayTests(SnapshotTestCase):
    Overlay = Overlay  # the pattern alone; FastOverlayTests below: the site's

    def test_snapshot_rows_are_seen_and_marked(self):
        products = list(self.Overlay(Product))
        self.assertEqual(len(products), 6)
        self.assertEqual({p.shadow_source for p in products}, {"snapshot"})

    def test_a_local_edit_overrides_the_snapshot_row(self):
        product = self.Overlay(Product).get(name="Snap 0")
        product.price = Decimal("1.50")
        product.save()  # copy-on-write
        again = self.Overlay(Product).get(pk=product.pk)
        self.assertEqual((again.price, again.shadow_source), (Decimal("1.50"), "local"))
        self.assertEqual(raw_count("default", Product, id=product.pk), 1)
        self.assertEqual(
            Product.objects.using("snapshot").get(pk=product.pk).price, Decimal("10")
        )
        self.assertEqual(self.Overlay(Product).count(), 6)

    def test_a_local_delete_hides_the_snapshot_row(self):
        product = self.Overlay(Product).get(name="Snap 1")
        key = product.pk
        self.assertTrue(self.Overlay(Review).filter(product_id=key).exists())
        product.delete()  # Django sets product.pk to None
        self.assertFalse(self.Overlay(Product).filter(pk=key).exists())
        self.assertEqual(self.Overlay(Product).count(), 5)
        self.assertTrue(Tombstone.objects.filter(object_id=key).exists())
        self.assertTrue(Product.objects.using("snapshot").filter(pk=key).exists())
        # ...and its reviews, which live in the snapshot too, go with it.
        self.assertFalse(self.Overlay(Review).filter(product_id=key).exists())

    def test_an_edit_that_no_longer_matches_a_filter_hides_the_snapshot_row(self):
        cheap = self.Overlay(Product).filter(price__lt=12)
        self.assertEqual(cheap.count(), 2)  # Snap 0 and Snap 1
        product = self.Overlay(Product).get(name="Snap 0")
        product.price = Decimal("99")
        product.save()
        self.assertEqual([p.name for p in cheap], ["Snap 1"])
        self.assertEqual(cheap.count(), 1)

    def test_new_local_rows_never_take_a_snapshot_key(self):
        added = Product.objects.create(name="Local", price=Decimal("5"))
        self.assertGreaterEqual(added.pk, settings.LOCAL_ID_START)
        self.assertFalse(Product.objects.using("snapshot").filter(pk=added.pk).exists())
        self.assertEqual(self.Overlay(Product).count(), 7)

    def test_nulls_come_first_on_every_engine_so_pages_merge_right(self):
        """PostgreSQL sorts NULLs last: each side is asked for SQLite's order."""
        product = self.Overlay(Product).get(name="Snap 5")
        for rating in [5, None, 4, None]:
            Review.objects.create(product_id=product.pk, text="mine", rating=rating)
        page = self.Overlay(Review).order_by("rating", "pk")[:3]
        self.assertEqual([r.rating for r in page], [None, None, 1])
        last = self.Overlay(Review).order_by("-rating", "-pk")[14:]
        self.assertEqual([r.rating for r in last], [None, None])

    def test_what_the_overlay_cannot_do_it_refuses(self):
        from django.db.models import F

        with self.assertRaises(ValueError):
            self.Overlay(Product)[-2:]
        with self.assertRaises(TypeError):
            self.Overlay(Product)[::2]
        for ordering in ["?", F("price").asc(nulls_last=True)]:
            with self.subTest(ordering=ordering), self.assertRaises(TypeError):
                list(self.Overlay(Product).order_by(ordering))

    def test_the_snapshot_is_opened_read_only_by_the_settings(self):
        from pathlib import Path

        from reviewsite.settings import read_only_database

        snapshot = read_only_database("snapshot", Path("/tmp/a#b?c/snap.sqlite3"))
        if connections["snapshot"].vendor == "sqlite":
            uri = "file:///tmp/a%23b%3Fc/snap.sqlite3?mode=ro"
            self.assertEqual(snapshot["NAME"], uri)
        else:
            options = snapshot["OPTIONS"]["options"]
            self.assertEqual(options, "-c default_transaction_read_only=on")

    @override_settings(SHADOW_MODELS={"products.product": "replaced"})
    def test_a_replaced_model_shows_local_rows_only(self):
        Product.objects.create(name="Redesigned", price=Decimal("5"))
        self.assertEqual([p.name for p in self.Overlay(Product)], ["Redesigned"])

    def test_writes_never_reach_the_snapshot(self):
        before = snapshot_sha256()
        product = self.Overlay(Product).get(name="Snap 2")
        product.name = "Changed"
        product.save()
        self.Overlay(Review).filter(product_id=product.pk)[0].delete()
        self.client.post(
            reverse("write_review", args=[product.pk]), {"text": "Local", "rating": "4"}
        )
        with self.assertRaisesRegex(DatabaseError, "read-?only|not authorized"):
            Product.objects.using("snapshot").create(name="Nope", price=Decimal("1"))
        self.assertEqual(snapshot_sha256(), before)

    def test_pages_mark_where_each_row_comes_from(self):
        product = self.Overlay(Product).get(name="Snap 3")
        product.name = "Snap 3, edited"
        product.save()
        page = self.client.get(reverse("products")).content.decode()
        self.assertEqual(page.count('class="source source-local"'), 1)
        self.assertEqual(page.count('class="source source-snapshot"'), 5)
        detail = self.client.get(reverse("product", args=[product.pk]))
        self.assertContains(detail, 'class="source source-snapshot"', count=2)
        self.assertContains(detail, '<span class="alias alias-1">snapshot</span>')


names = st.sampled_from(["Anvil", "Bell", "Cart", "Drum"])
prices = st.integers(1, 40).map(Decimal)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), names, prices),
        st.tuples(st.just("update"), st.integers(0, 20), prices),
        st.tuples(st.just("delete"), st.integers(0, 20), st.none()),
    ),
    max_size=12,
)


class OverlayOracleTests(HypothesisTransactionTestCase):
    """Random creates, updates and deletes through the overlay give the rows a
    plain copy of the snapshot would hold after the same operations."""

    Overlay = Overlay

    databases = ALL

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        publish(products=8, reviews_each=0)

    @hypothesis_settings(
        max_examples=40, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(operations)
    def test_overlay_equals_a_copy_with_the_same_changes(self, ops):
        oracle = {p.pk: (p.name, p.price) for p in Product.objects.using("snapshot")}
        for op, arg, price in ops:
            keys = sorted(oracle)
            if op == "create":
                made = Product.objects.create(name=arg, price=price)
                oracle[made.pk] = (arg, price)
            elif keys and op == "update":
                key = keys[arg % len(keys)]
                row = self.Overlay(Product).get(pk=key)
                row.price = price
                row.save()
                oracle[key] = (oracle[key][0], price)
            elif keys and op == "delete":
                key = keys[arg % len(keys)]
                self.Overlay(Product).get(pk=key).delete()
                del oracle[key]
        rows = sorted((key, name, price) for key, (name, price) in oracle.items())
        by_price = sorted(rows, key=lambda r: (r[2], r[0]))
        cheap = [r for r in by_price if r[2] < 20]
        self.assertEqual(sorted(visible(self.Overlay(Product))), rows)
        self.assertEqual(self.Overlay(Product).count(), len(rows))
        ordered = self.Overlay(Product).order_by("price", "pk")
        self.assertEqual(visible(ordered), by_price)
        self.assertEqual(visible(ordered[2:5]), by_price[2:5])
        self.assertEqual(visible(ordered.filter(price__lt=20)), cheap)
        self.assertEqual(ordered.filter(price__lt=20).count(), len(cheap))
        self.assertEqual(ordered.exclude(price__lt=20).count(), len(rows) - len(cheap))
        dearest_first = sorted(rows, key=lambda r: (-r[2], r[0]))
        newest_order = self.Overlay(Product).order_by("-price", "pk")
        self.assertEqual(visible(newest_order), dearest_first)


class FastOverlayTests(OverlayTests):
    """The same answers from the overlay the site reads through."""

    Overlay = FastOverlay


class FastOverlayOracleTests(OverlayOracleTests):
    Overlay = FastOverlay


def snapshot_queries(test, alias="snapshot"):
    """A context manager collecting (sql, params) of each query on ``alias``."""
    from contextlib import contextmanager

    @contextmanager
    def collect():
        seen = []

        def wrapper(execute, sql, params, many, context):
            seen.append((sql, params or ()))
            return execute(sql, params, many, context)

        with connections[alias].execute_wrapper(wrapper):
            yield seen

    return collect()


class OverlayCostTests(SnapshotTestCase):
    """What a page costs: queries per database, and what each one lists."""

    def change_reviews(self):
        """An edit, a deletion and an addition among the snapshot's reviews."""
        reviews = list(FastOverlay(Review).order_by("pk"))
        reviews[0].text = "edited"
        reviews[0].save()
        reviews[1].delete()
        Review.objects.create(product_id=reviews[2].product_id, text="new", rating=3)

    def test_the_review_list_asks_six_local_queries_and_four_snapshot_ones(self):
        """The count: local rows, shadowed keys (one query), the snapshot's
        table and its hidden rows; the page: local rows, snapshot rows, which
        of these are hidden; the products: local rows, tombstones, snapshot
        rows. (The reviews are anonymous: no authors to read.)"""
        self.change_reviews()
        with (
            self.assertNumQueries(6, using="default"),
            self.assertNumQueries(4, using="snapshot"),
        ):
            self.client.get(reverse("latest_reviews"))

    def test_the_product_list_asks_six_local_queries_and_four_snapshot_ones(self):
        """As the README says: the count (two a side), the page (two local,
        one snapshot), the review figures (shadowed keys and a GROUP BY
        locally, a GROUP BY on the snapshot)."""
        product = FastOverlay(Product).get(name="Snap 0")
        product.name = "Snap 0, edited"
        product.save()
        with (
            self.assertNumQueries(6, using="default"),
            self.assertNumQueries(4, using="snapshot"),
        ):
            self.client.get(reverse("products"))

    def test_the_count_lets_the_snapshot_count_its_table_whole(self):
        """No row is tested against a list of keys: the snapshot counts its
        table (from an index, on SQLite) and the hidden rows by key."""
        self.change_reviews()
        with snapshot_queries(self) as seen:
            self.assertEqual(FastOverlay(Review).count(), 12)
        sqls = [sql for sql, _ in seen]
        self.assertEqual(len(sqls), 2)
        self.assertFalse([sql for sql in sqls if "NOT" in sql])
        self.assertIn('SELECT COUNT(*) AS "__count" FROM "reviews_review"', sqls)

    def test_the_shadowed_keys_travel_as_one_parameter(self):
        """Not one parameter per change: thousands of them are slow to send,
        and SQLite caps their number."""
        reviews = list(FastOverlay(Review).order_by("pk"))
        for review in reviews[:3]:
            review.text = "edited"
            review.save()
        for review in reviews[3:5]:
            review.delete()
        from unittest import mock

        with (
            snapshot_queries(self) as seen,
            mock.patch("project.deep_pages.DEEP_FROM", 1),
        ):
            self.client.get(reverse("latest_reviews"))
            list(FastOverlay(Review).snapshot())  # the review figures' side
            list(FastOverlay(Review)[4:6])  # a deep page
        self.assertLessEqual(max(len(params) for _, params in seen), 1)

    def test_orderings_on_not_null_fields_ask_for_no_nulls_placement(self):
        """SQLite walks the (created, id) index more slowly with NULLS LAST."""
        with snapshot_queries(self) as seen:
            list(FastOverlay(Review)[:3])
            list(FastOverlay(Review).order_by("rating", "pk")[:3])
        by_date, by_rating = seen[0][0], seen[-1][0]
        self.assertNotIn("NULLS", by_date)
        self.assertIn("NULLS FIRST", by_rating)  # rating may be NULL

    def test_in_bulk_asks_two_local_queries_and_one_of_the_snapshot(self):
        products = list(FastOverlay(Product))
        edited, dead, kept = products[0], products[1], products[2]
        edited.name = "Edited"
        edited.save()
        dead_key = dead.pk
        dead.delete()
        keys = [edited.pk, dead_key, kept.pk]
        with (
            self.assertNumQueries(2, using="default"),
            self.assertNumQueries(1, using="snapshot"),
        ):
            rows = FastOverlay(Product).in_bulk(keys)
        self.assertEqual(set(rows), {edited.pk, kept.pk})
        self.assertEqual(
            (rows[edited.pk].name, rows[edited.pk].shadow_source), ("Edited", "local")
        )
        self.assertEqual(rows[kept.pk].shadow_source, "snapshot")

    def test_in_bulk_through_a_filter_still_hides_an_edit_it_leaves_out(self):
        product = FastOverlay(Product).get(name="Snap 0")  # price 10
        product.price = Decimal("99")
        product.save()
        cheap = FastOverlay(Product).filter(price__lt=20).in_bulk([product.pk])
        self.assertEqual(cheap, {})

    def test_a_page_reads_on_past_rows_it_finds_hidden(self):
        """The snapshot's first rows, all hidden: the page reads further."""
        for product in list(FastOverlay(Product))[:4]:
            product.delete()
        self.assertEqual(
            [p.name for p in FastOverlay(Product)[:2]], ["Snap 4", "Snap 5"]
        )

    def test_a_deep_page_is_skipped_to_in_sql_and_merges_right(self):
        """From DEEP_FROM on, the snapshot skips the rows before the page with
        OFFSET instead of sending them all; every page is what slicing the
        whole list gives."""
        from unittest import mock

        reviews = list(FastOverlay(Review).order_by("pk"))
        reviews[0].text = "edited"
        reviews[0].save()
        reviews[5].created = reviews[9].created  # moved, tied on date
        reviews[5].save()
        reviews[7].delete()
        for n in range(3):
            Review.objects.create(
                product_id=reviews[0].product_id, text=f"new {n}", rating=None,
                created=reviews[2 + 3 * n].created,
            )  # fmt: skip
        for ordering in [["-created", "-id"], ["rating", "pk"], ["-rating", "-pk"]]:
            whole = [r.pk for r in FastOverlay(Review).order_by(*ordering)]
            self.assertEqual(len(whole), 14)
            with mock.patch("project.deep_pages.DEEP_FROM", 1):
                for start in range(1, 15):
                    for stop in [start + 1, start + 3, None]:
                        with self.subTest(ordering=ordering, start=start, stop=stop):
                            page = FastOverlay(Review).order_by(*ordering)[start:stop]
                            self.assertEqual([r.pk for r in page], whole[start:stop])
                with snapshot_queries(self) as seen:
                    list(FastOverlay(Review).order_by(*ordering)[6:8])
                self.assertTrue([sql for sql, _ in seen if "OFFSET 6" in sql])

    # SQLite only: elsewhere nothing tells the overlay that the local database
    # is unchanged between the count and the page, so it reads the keys again.
    @on_sqlite_only
    def test_a_deep_page_tests_no_skipped_row_against_the_keys(self):
        """The OFFSET walks the snapshot's index as one database would: no
        list of shadowed keys is sent with it, and the hidden rows are read
        once for the count and the page together."""
        from unittest import mock

        self.change_reviews()
        with (
            snapshot_queries(self) as seen,
            mock.patch("project.deep_pages.DEEP_FROM", 1),
        ):
            overlay = FastOverlay(Review)
            overlay.count()
            list(overlay[6:8])
        offsets = [(sql, p) for sql, p in seen if "OFFSET 6" in sql]
        self.assertEqual(len(offsets), 1)
        self.assertEqual(offsets[0][1], ())  # no keys
        self.assertFalse(lists_keys(offsets[0][0]))
        # Two lists of keys: the shadowed ones, once for the count and the
        # page, and the page's own two rows, read whole by key.
        listed = [params for sql, params in seen if lists_keys(sql)]
        self.assertEqual(len(listed), 2)
        self.assertEqual(len(keys_sent(listed[-1][0])), 2)

    def test_a_deep_page_reads_only_sort_values_of_the_rows_it_skips(self):
        """The rows that only place the page (skipped, hidden, pushed) are
        read as sort values and keys; the page's own rows alone are read
        whole, by key: building the others as models cost more than the page."""
        from unittest import mock

        self.change_reviews()
        whole = [r.pk for r in FastOverlay(Review)]
        with (
            snapshot_queries(self) as seen,
            mock.patch("project.deep_pages.DEEP_FROM", 1),
        ):
            page = FastOverlay(Review)[6:8]
        self.assertEqual([r.pk for r in page], whole[6:8])
        self.assertEqual({r.shadow_source for r in page}, {"snapshot"})
        walks = [sql for sql, _ in seen if "LIMIT" in sql]
        self.assertTrue(walks)
        self.assertFalse([sql for sql in walks if '"text"' in sql])
        read_whole = [p for sql, p in seen if '"text"' in sql]
        self.assertEqual([len(keys_sent(p[0])) for p in read_whole], [2])

    def test_a_deep_page_after_hidden_rows_takes_one_walk(self):
        """The hidden rows before the page are guessed from their share of
        the snapshot (counted for the paginator), so the first batch reaches
        past them: no second query to read the rest of the page."""
        from unittest import mock

        for review in list(FastOverlay(Review))[:4]:
            review.delete()  # the four newest: all before the page
        whole = [r.pk for r in FastOverlay(Review)]
        with (
            snapshot_queries(self) as seen,
            mock.patch("project.deep_pages.DEEP_FROM", 1),
        ):
            overlay = FastOverlay(Review)
            overlay.count()
            self.assertEqual([r.pk for r in overlay[6:8]], whole[6:8])
        self.assertEqual(len([sql for sql, _ in seen if "LIMIT" in sql]), 1)

    def test_a_keyset_condition_lets_sqlite_seek_its_index(self):
        """Led by a range on the first field: SEARCH, not SCAN, of the index."""
        from project.deep_pages import after_row

        self.change_reviews()
        row = FastOverlay(Review)[5]
        later = (
            FastOverlay(Review).matching().filter(after_row(row, ["-created", "-id"]))
        )
        plan = later.order_by("-created", "-id").explain()
        if connections["snapshot"].vendor == "sqlite":
            self.assertIn("SEARCH", plan)

    @on_sqlite_only  # the snapshot's stamped identity keys the memo
    def test_the_hidden_count_is_kept_until_the_keys_or_the_snapshot_change(self):
        self.change_reviews()
        self.assertEqual(FastOverlay(Review).count(), 12)
        with self.assertNumQueries(1, using="snapshot"):  # the table's count
            self.assertEqual(FastOverlay(Review).count(), 12)
        FastOverlay(Review).order_by("pk")[3].delete()  # the keys change
        with self.assertNumQueries(2, using="snapshot"):
            self.assertEqual(FastOverlay(Review).count(), 11)
        # Another snapshot (production is emptied between tests): 12 reviews
        # again, other keys.
        publish()
        self.assertEqual(FastOverlay(Review).count(), len(list(FastOverlay(Review))))
        self.assertNotEqual(FastOverlay(Review).count(), 11)


class NewSnapshotTests(SnapshotTestCase):
    """The memo of hidden rows never outlives its snapshot, however the
    connection that reads it was opened or reused."""

    @on_sqlite_only
    def test_a_new_snapshot_under_a_reopened_connection_is_counted_afresh(self):
        reviews = list(FastOverlay(Review).order_by("pk"))
        buried = [review.pk for review in reviews[:3]]
        for review in reviews[:3]:
            review.delete()  # three snapshot rows hidden by tombstones
        self.assertEqual(FastOverlay(Review).count(), 9)  # the memo is filled
        # Production loses two of them, and the developer takes a new snapshot:
        # the same tombstones now hide one row, not three.
        production = Review.objects.using("production")
        saved = list(production.filter(pk__in=buried[:2]))
        production.filter(pk__in=buried[:2]).delete()
        self.addCleanup(production.bulk_create, saved)
        call_command("take_snapshot", stdout=StringIO())
        Product.objects.using("snapshot").count()  # reopened by a plain query
        self.assertEqual(raw_count("snapshot", Review), 10)
        self.assertEqual(FastOverlay(Review).count(), 9)
        page = list(FastOverlay(Review).order_by("pk")[0:20])
        self.assertEqual(len(page), 9)
        self.assertFalse(set(buried) & {review.pk for review in page})


class SnapshotIdentityTests(SnapshotTestCase):
    @on_sqlite_only
    def test_each_snapshot_names_itself_in_its_header_from_its_content(self):
        from project.hidden_rows import snapshot_identity

        first = snapshot_identity()
        self.assertIsNotNone(first)
        call_command("take_snapshot", stdout=StringIO())
        self.assertEqual(snapshot_identity(), first)  # the same content
        production = Review.objects.using("production")
        saved = production.first()
        production.filter(pk=saved.pk).delete()
        self.addCleanup(production.bulk_create, [saved])
        call_command("take_snapshot", stdout=StringIO())
        self.assertNotEqual(snapshot_identity(), first)


def lists_keys(sql: str) -> bool:
    """Whether a query sends a list of keys, as overlay.listed() writes it."""
    return "json_each" in sql or "unnest" in sql


def keys_sent(param) -> list:
    """The keys of listed()'s one parameter: JSON on SQLite, a list elsewhere."""
    return json.loads(param) if isinstance(param, str) else list(param)
