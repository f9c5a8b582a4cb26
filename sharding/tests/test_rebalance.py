"""rebalance: whole logical shards move, about 1/(N+1) of the reviews; a run
stopped at any commit boundary, on any database, is finished by the next with
every review once, where the map says, with its last acknowledged content;
writes wait only while their logical shard is copied; one run at a time."""

from io import StringIO
from unittest import mock

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.test import TransactionTestCase, override_settings
from django.urls import reverse

from project import ids, lease, rebalance, shardmap
from project.models import LogicalShard, RebalanceLease, ShardMap, ShardMove
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product

from .crashpoints import HOW, Killed, boundaries
from .helpers import (
    dealt_over,
    one_per_database,
    place,
    plan_a_swap,
    stored_reviews,
)

OLD = settings.SHARDS[:3]  # the databases before the fourth is added


def run_rebalance(*args) -> str:
    out = StringIO()
    call_command("rebalance", *args, stdout=out)
    return out.getvalue()


class Checks:
    """What must hold after any run, VDiff-style: row by row, not totals."""

    def assert_every_review_once_where_the_map_says(self, expected: dict[int, str]):
        rows = stored_reviews()
        found = [row[0] for row in rows]
        self.assertEqual(len(found), len(set(found)), "a review is stored twice")
        self.assertEqual({row[0]: row[4] for row in rows}, expected)  # id: text
        shardmap.forget()
        for review_id, product_id, *_ in rows:
            alias = shardmap.alias_of(logical_shard(product_id))
            self.assertEqual(
                Review.objects.using(alias).filter(pk=review_id).count(), 1
            )

    def assert_each_logical_shard_owned_where_the_map_says(self):
        owners = {}
        for alias in settings.SHARDS:
            for n, state in LogicalShard.objects.using(alias).values_list(
                "logical", "state"
            ):
                self.assertEqual(state, LogicalShard.State.OWNED, (alias, n))
                self.assertNotIn(n, owners, f"logical shard {n} held twice")
                owners[n] = alias
        self.assertEqual(owners, dict(ShardMap.objects.values_list("logical", "alias")))

    def assert_every_review_readable(self, expected: dict[int, str]):
        """Reads never miss, whatever state a move was stopped in."""
        shardmap.forget()
        for review_id, text in expected.items():
            self.assertEqual(Review.objects.get(pk=review_id).text, text)


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class RebalanceTests(Checks, TransactionTestCase):
    databases = "__all__"

    def setUp(self):
        place(dealt_over(OLD))
        products = [make_product(f"P{n}") for n in range(60)]
        Review.objects.bulk_create(
            Review(product_id=products[n % 60].pk, text=f"review {n}", rating=n % 5 + 1)
            for n in range(300)
        )
        self.before = {row[0]: row[4] for row in stored_reviews()}
        self.product = products[0]

    def test_dry_run_prints_the_plan_and_moves_nothing(self):
        out = run_rebalance("--dry-run")
        self.assertIn("Plan: move 256 of 1024 logical shards", out)
        self.assertIn("from shard0 to shard3", out)
        self.assertFalse(ShardMove.objects.exists())
        self.assert_every_review_once_where_the_map_says(self.before)

    def test_adding_a_database_moves_about_a_quarter_of_the_reviews(self):
        plan = rebalance.plan(settings.SHARDS)
        share = plan.rows_moved / plan.rows_total
        self.assertTrue(0.18 <= share <= 0.32, share)  # 1/(N+1) = 25%
        out = run_rebalance()
        self.assertIn(f"{plan.rows_moved} of 300 reviews", out)
        counts = {a: ShardMap.objects.filter(alias=a).count() for a in settings.SHARDS}
        self.assertEqual(set(counts.values()), {256})
        self.assert_every_review_once_where_the_map_says(self.before)
        self.assert_each_logical_shard_owned_where_the_map_says()
        self.assertIn("Balanced already.", run_rebalance())


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class DrainTests(Checks, TransactionTestCase):
    databases = "__all__"

    def test_draining_a_database_moves_everything_off_it(self):
        products = [make_product(f"P{n}") for n in range(12)]
        mapping = dealt_over(OLD)
        for product in products[:4]:  # shard3 holds these four's logical shards
            mapping[logical_shard(product.pk)] = "shard3"
        place(mapping)
        Review.objects.bulk_create(
            Review(product_id=p.pk, text=f"review {n}")
            for p in products
            for n in range(5)
        )
        expected = {row[0]: row[4] for row in stored_reviews()}
        self.assertTrue(Review.objects.using("shard3").exists())
        with override_settings(SHARDS=OLD, DRAINING_SHARDS=["shard3"]):
            out = run_rebalance()
        self.assertIn("shard3 hold(s) nothing now", out)
        self.assertFalse(ShardMap.objects.filter(alias="shard3").exists())
        self.assertFalse(Review.objects.using("shard3").exists())
        self.assertFalse(LogicalShard.objects.using("shard3").exists())
        self.assert_every_review_once_where_the_map_says(expected)
        self.assert_each_logical_shard_owned_where_the_map_says()


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class SwapCase(Checks, TransactionTestCase):
    """Balanced over every shard; one product on shard0 and one on shard1,
    whose logical shards ``plan_a_swap()`` makes trade databases."""

    databases = "__all__"

    def setUp(self):
        place(dealt_over(settings.SHARDS))
        products = [make_product(f"P{n}") for n in range(40)]
        self.products = one_per_database(products, ["shard0", "shard1"])
        self.product = self.products[0]
        Review.objects.bulk_create(
            Review(product_id=p.pk, text=f"review {n}")
            for p in products
            for n in range(3)
        )
        self.expected = {row[0]: row[4] for row in stored_reviews()}

    def plan_a_swap(self):
        plan_a_swap(self.products)


class DuringAMoveTests(SwapCase):
    def test_a_frozen_logical_shard_refuses_writes_with_a_503_on_the_site(self):
        logical = logical_shard(self.product.pk)
        source = shardmap.alias_of(logical)
        rebalance.set_state(source, logical, LogicalShard.State.FROZEN)
        self.addCleanup(rebalance.set_state, source, logical, LogicalShard.State.OWNED)
        response = self.client.post(
            reverse("write_review", args=[self.product.pk]),
            {"text": "During the move"},
        )
        self.assertContains(response, "being moved", status_code=503)
        old = Review.objects.filter(product_id=self.product.pk).first()
        for write in (  # whatever path: the shard's own triggers refuse
            lambda: Review(product_id=self.product.pk, text="x").save(using=source),
            lambda: Review.objects.using(source).filter(pk=old.pk).update(text="y"),
            lambda: Review.objects.using(source).filter(pk=old.pk).delete(),
        ):
            with self.subTest(write=write), self.assertRaises(DatabaseError):
                write()
        self.assert_every_review_once_where_the_map_says(self.expected)

    def test_a_freeze_between_the_id_and_the_insert_is_a_503_not_a_500(self):
        logical = logical_shard(self.product.pk)
        source = shardmap.alias_of(logical)
        real_issue = ids.issue

        def issue_then_freeze(*args):
            issued = real_issue(*args)
            rebalance.set_state(source, logical, LogicalShard.State.FROZEN)
            return issued

        self.addCleanup(rebalance.set_state, source, logical, LogicalShard.State.OWNED)
        with mock.patch.object(ids, "issue", issue_then_freeze):
            response = self.client.post(
                reverse("write_review", args=[self.product.pk]), {"text": "Racing"}
            )
        self.assertContains(response, "being moved", status_code=503)
        self.assert_every_review_once_where_the_map_says(self.expected)

    def test_a_write_that_routed_before_the_freeze_is_refused_not_lost(self):
        """A writer that picked the source before the freeze commits during
        the copy: refused by the source's fence, and the run goes on."""
        self.plan_a_swap()
        logical = logical_shard(self.product.pk)
        late, real_copy_rows = [], rebalance.copy_rows

        def copy_rows_with_a_writer(move):
            if move.logical == logical:
                try:
                    late_review = Review(product_id=self.product.pk, text="late")
                    late_review.save(using=move.source)
                    late.append("accepted")
                except DatabaseError:
                    late.append("refused")
            return real_copy_rows(move)

        with mock.patch.object(rebalance, "copy_rows", copy_rows_with_a_writer):
            run_rebalance()
        self.assertEqual(late, ["refused"])
        self.assert_every_review_once_where_the_map_says(self.expected)
        response = self.client.post(
            reverse("write_review", args=[self.product.pk]), {"text": "After"}
        )
        self.assertEqual(response.status_code, 302)  # open again, on the target

    def test_a_run_that_fails_lets_writes_in_again(self):
        self.plan_a_swap()
        logical = logical_shard(self.product.pk)
        source = shardmap.alias_of(logical)
        with (
            mock.patch.object(rebalance, "copy_rows", side_effect=OSError("disk")),
            self.assertRaises(OSError),
        ):
            run_rebalance()
        state = LogicalShard.objects.using(source).get(logical=logical).state
        self.assertEqual(state, LogicalShard.State.OWNED)
        response = self.client.post(
            reverse("write_review", args=[self.product.pk]), {"text": "Still open"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(RebalanceLease.objects.get().owner, "")  # released

    def test_a_second_run_is_refused_while_another_holds_the_lease(self):
        self.plan_a_swap()
        lease.Lease(owner="elsewhere:4242:1").acquire()
        with self.assertRaisesMessage(CommandError, "Another rebalance is running"):
            run_rebalance()
        self.assertEqual(len(rebalance.unfinished()), 2)  # not started
        self.assert_every_review_once_where_the_map_says(self.expected)
        self.assert_each_logical_shard_owned_where_the_map_says()

    def test_a_dead_processs_lease_is_taken_over_and_an_expired_one_too(self):
        here = lease.this_process().split(":")[0]
        for owner, expires in [
            (f"{here}:999999999:1", None),  # this machine, no such process
            ("elsewhere:4242:1", "2000-01-01T00:00Z"),  # another, expired
        ]:
            with self.subTest(owner=owner):
                self.plan_a_swap()
                RebalanceLease.objects.update_or_create(
                    defaults={"owner": owner, "expires": expires or "2999-01-01T00:00Z"}
                )
                self.assertIn("left 2 move(s) unfinished", run_rebalance())
                self.assertFalse(rebalance.unfinished())
                self.assert_every_review_once_where_the_map_says(self.expected)

    def test_a_run_whose_lease_was_taken_stops_at_its_next_step(self):
        self.plan_a_swap()
        real_copy = rebalance.copy
        taken = []

        def copy_then_lose_the_lease(move, held):
            real_copy(move, held)
            if not taken:
                RebalanceLease.objects.update(owner="elsewhere:4242:1")
                taken.append(move)

        with (
            mock.patch.object(rebalance, "copy", copy_then_lose_the_lease),
            self.assertRaises(lease.LeaseLost),
        ):
            run_rebalance()
        self.assertEqual(ShardMove.objects.filter(state="switched").count(), 0)
        held = LogicalShard.objects.using(taken[0].source)
        state = held.get(logical=taken[0].logical).state
        self.assertEqual(state, LogicalShard.State.FROZEN)  # the new owner's to thaw
        RebalanceLease.objects.update(owner="")
        run_rebalance()
        self.assert_every_review_once_where_the_map_says(self.expected)
        self.assert_each_logical_shard_owned_where_the_map_says()


class StoppedAtEveryCommitTests(SwapCase):
    """Two logical shards swap databases; the run is stopped at its first
    commit boundary, then its second, ... on every database it writes, both
    by a refused commit and by death right after one. Between the stopped
    run and the rerun the site writes, edits and deletes reviews of the
    moving logical shards; only what it acknowledged must be there after."""

    def setUp(self):
        super().setUp()
        self.writes = 0

    def write_on_the_site(self):
        """A create, an edit and a delete per moving product, through the
        ORM as the site does: kept in ``expected`` only if acknowledged."""
        for product in self.products:
            self.writes += 1
            shardmap.forget()
            try:
                review = Review.objects.create(
                    product_id=product.pk, text=f"write {self.writes}"
                )
                self.expected[review.pk] = review.text
            except DatabaseError:
                pass  # refused (503 on the site): not acknowledged
            mine = sorted(self.ids_of(product) & set(self.expected))
            try:
                Review.objects.filter(pk=mine[0]).update(text=f"edit {self.writes}")
                self.expected[mine[0]] = f"edit {self.writes}"
            except DatabaseError:
                pass
            if len(mine) < 2:
                continue
            try:
                Review.objects.filter(pk=mine[-1]).delete()
                del self.expected[mine[-1]]
            except DatabaseError:
                pass

    def ids_of(self, product) -> set[int]:
        return set(
            Review.objects.filter(product_id=product.pk).values_list("pk", flat=True)
        )

    def test_every_commit_boundary_refused_and_killed_then_rerun(self):
        self.plan_a_swap()
        with boundaries() as counted:
            run_rebalance()
        total = len(counted.passed)
        self.assertGreaterEqual(total, 16)  # 8 per move at least
        for stop in range(1, total + 1):
            for how in HOW:
                # The swap goes back and forth: the databases' names alternate.
                with self.subTest(stop=stop, how=how, at=counted.passed[stop - 1]):
                    self.plan_a_swap()
                    with (
                        boundaries(stop, how) as seen,
                        self.assertRaises((DatabaseError, Killed)),
                    ):
                        run_rebalance()
                    self.assertTrue(seen.stopped)  # it did stop, at that boundary
                    self.assert_every_review_readable(self.expected)
                    self.write_on_the_site()
                    run_rebalance()  # finishes what was left, then balanced
                    self.assertFalse(rebalance.unfinished())
                    self.assert_every_review_once_where_the_map_says(self.expected)
                    self.assert_each_logical_shard_owned_where_the_map_says()
                    self.assertIn("Balanced already", run_rebalance())
