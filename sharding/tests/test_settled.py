"""The admin's every-shard list tests each row's id against the logical
shards its database owns only while a move is unfinished: a database holds
rows it does not own (a copy being made, or not deleted yet) only then. A
move recorded while a page reads is caught, and the page read again."""

from contextlib import ExitStack, contextmanager
from unittest import mock

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import TestCase
from django.urls import reverse

from project import admin as sharding_admin
from project import lease, rebalance, shardmap, shares
from project.models import ShardMove
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import stored_reviews

URL = reverse("admin:reviews_review_changelist")
OWNERSHIP_TEST = ">>"  # the id's logical shard, in the SQL


class SettledTests(TestCase):
    databases = "__all__"

    def setUp(self):
        self.client.force_login(
            get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        )
        products = [make_product(f"P{n}") for n in range(8)]
        for n in range(40):
            make_review(products[n % 8], text=f"review {n}")
        self.moved = products[0]
        review_admin = admin.site.get_model_admin(Review)
        patcher = mock.patch.object(review_admin, "list_per_page", 15)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.lease = lease.Lease()
        self.lease.acquire()
        self.addCleanup(self.lease.release)

    def start_a_move(self) -> None:
        """Record a move of the first product's logical shard and copy it: its
        reviews are now on two databases, until the move ends."""
        logical = logical_shard(self.moved.pk)
        source = shardmap.alias_of(logical)
        target = next(a for a in shardmap.configured() if a != source)
        move = ShardMove.objects.create(logical=logical, source=source, target=target)
        rebalance.copy(move, self.lease)

    @contextmanager
    def shard_sql(self):
        statements = []

        def record(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for alias in shardmap.configured():
                stack.enter_context(connections[alias].execute_wrapper(record))
            yield statements

    def changelist(self, **params):
        response = self.client.get(URL, params)
        self.assertEqual(response.status_code, 200)
        return response.context["cl"]

    def test_with_no_move_unfinished_no_row_is_tested(self):
        with self.shard_sql() as statements:
            cl = self.changelist(p=2)
        self.assertTrue(statements)
        self.assertFalse([sql for sql in statements if OWNERSHIP_TEST in sql])
        self.assertEqual(cl.result_count, 40)

    def test_while_a_move_is_unfinished_each_row_is_tested_and_listed_once(self):
        copies_before = len(stored_reviews())
        self.start_a_move()
        self.assertGreater(len(stored_reviews()), copies_before)  # on two databases
        with self.shard_sql() as statements:
            cl = self.changelist()
        self.assertTrue([sql for sql in statements if OWNERSHIP_TEST in sql])
        self.assertEqual(cl.result_count, 40)

    def assert_caught_when_a_move_starts_at_fan_out(self, n: int) -> None:
        real, calls, started = sharding_admin.on_every_shard, [], []

        def start_at_n(query, shards=None):
            calls.append(query)
            if len(calls) == n + 1:  # the page saw no move, then this
                started.append(self.start_a_move())
            return real(query, shards=shards)

        with mock.patch.object(sharding_admin, "on_every_shard", start_at_n):
            cl = self.changelist(p=2)
        self.assertTrue(started)
        self.assertEqual(cl.result_count, 40)
        pages = [self.changelist(p=p).result_list for p in (1, 3)]
        listed = [pk.pk for page in [pages[0], cl.result_list, pages[1]] for pk in page]
        self.assertEqual(len(listed), 40)
        self.assertEqual(len(set(listed)), 40)

    def test_a_move_that_starts_while_the_page_counts_is_caught(self):
        self.assert_caught_when_a_move_starts_at_fan_out(0)

    def test_a_move_that_starts_while_the_page_is_placed_is_caught(self):
        self.assert_caught_when_a_move_starts_at_fan_out(1)

    def test_a_move_that_starts_while_the_first_page_reads_is_caught(self):
        real, started = sharding_admin.on_every_shard, []

        def start_before(query, shards=None):
            if len(started) == 1:  # the count came first
                started.append(self.start_a_move())
            started.append(None)
            return real(query, shards=shards)

        with mock.patch.object(sharding_admin, "on_every_shard", start_before):
            cl = self.changelist()
        listed = [row.pk for row in cl.result_list]
        self.assertEqual(len(listed), 15)
        self.assertEqual(len(set(listed)), 15)

    def test_the_latest_reviews_read_no_owner_while_no_move_is_unfinished(self):
        with self.shard_sql() as statements:
            response = self.client.get(reverse("latest_reviews"))
        self.assertEqual(len(response.context["reviews"]), 20)
        self.assertTrue(statements)
        self.assertFalse([sql for sql in statements if OWNERSHIP_TEST in sql])

    def test_a_move_that_starts_while_the_latest_reviews_are_read_is_caught(self):
        real, started = shares.on_every_shard, []

        def start_first(query, shards=None, **kwargs):
            if not started:
                started.append(self.start_a_move())
            return real(query, shards=shards, **kwargs)

        with mock.patch.object(shares, "on_every_shard", start_first):
            response = self.client.get(reverse("latest_reviews"))
        self.assertTrue(started)
        shown = [review.pk for review in response.context["reviews"]]
        self.assertEqual(len(shown), 20)
        self.assertEqual(len(set(shown)), 20)
