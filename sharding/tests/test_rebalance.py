"""rebalance: whole logical shards move, about 1/(N+1) of the reviews; a run
stopped at any commit boundary, on any database, is finished by the next with
every review once, where the map says, with its last acknowledged content;
writes wait only while their logical shard is copied; one run at a time."""

import time
from io import StringIO
from unittest import mock, skipUnless

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError, connections
from django.test import TransactionTestCase, override_settings
from django.urls import reverse

from project import ids, lease, rebalance, shardmap
from project.models import LogicalShard, RebalanceLease, ShardMap, ShardMove
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product

from .crashpoints import HOW, Killed, boundaries
from .helpers import (
    dead_process,
    dealt_over,
    home,
    left_open,
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

    def test_a_run_that_lost_its_lease_cannot_record_a_plan_made_before(self):
        real_plan, nested = rebalance.plan, []

        def plan_then_sleep_past_the_lease(shards):
            stale_plan = real_plan(shards)
            if not nested:
                nested.append(1)
                RebalanceLease.objects.update(expires="2000-01-01T00:00Z")
                with mock.patch.object(lease, "this_process", return_value="b:2:2"):
                    run_rebalance()  # a new run does the whole job meanwhile
            return stale_plan

        with (
            mock.patch.object(lease, "this_process", return_value="a:1:1"),
            mock.patch.object(rebalance, "plan", plan_then_sleep_past_the_lease),
            self.assertRaises(lease.LeaseLost),
        ):
            run_rebalance()
        self.assertFalse(rebalance.unfinished())
        self.assertIn("Balanced already", run_rebalance())
        self.assert_every_review_once_where_the_map_says(self.before)
        self.assert_each_logical_shard_owned_where_the_map_says()


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class DrainTests(Checks, TransactionTestCase):
    databases = "__all__"

    def setUp(self):
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
        self.expected = {row[0]: row[4] for row in stored_reviews()}
        self.assertTrue(Review.objects.using("shard3").exists())
        # Those four, and any other product that hashes to one of their
        # logical shards (the ids depend on the tests run before).
        on_shard3 = [p for p in products if mapping[logical_shard(p.pk)] == "shard3"]
        self.held_by_shard3 = 5 * len(on_shard3)

    def test_draining_a_database_moves_everything_off_it(self):
        with override_settings(SHARDS=OLD, DRAINING_SHARDS=["shard3"]):
            out = run_rebalance()
        self.assertIn("shard3 hold(s) nothing now", out)
        self.assertFalse(ShardMap.objects.filter(alias="shard3").exists())
        self.assertFalse(Review.objects.using("shard3").exists())
        self.assertFalse(LogicalShard.objects.using("shard3").exists())
        self.assert_every_review_once_where_the_map_says(self.expected)
        self.assert_each_logical_shard_owned_where_the_map_says()

    def test_the_shards_page_counts_the_database_being_drained(self):
        with override_settings(SHARDS=OLD, DRAINING_SHARDS=["shard3"]):
            page = self.client.get(reverse("shards"))
        rows = {shard["alias"]: shard["reviews"] for shard in page.context["shards"]}
        self.assertEqual(set(rows), {*OLD, "shard3"})
        self.assertEqual(sum(rows.values()), page.context["reviews"])
        self.assertEqual(page.context["reviews"], len(self.expected))

    def test_shrinking_without_keeping_the_database_reachable_is_a_clear_error(self):
        with (
            override_settings(SHARDS=OLD, DRAINING_SHARDS=[]),
            mock.patch.dict(settings.DATABASES),
        ):
            del settings.DATABASES["shard3"]
            with self.assertRaisesMessage(CommandError, "shard3, which this process"):
                run_rebalance()
        self.assert_every_review_once_where_the_map_says(self.expected)

    def test_the_admin_lists_a_database_being_drained(self):
        admin = get_user_model().objects.create_superuser("a", "a@example.com", "a")
        self.client.force_login(admin)
        url = reverse("admin:reviews_review_changelist")
        with override_settings(SHARDS=OLD, DRAINING_SHARDS=["shard3"]):
            page = self.client.get(url, {"shard": "shard3"})
        self.assertEqual(page.context["cl"].result_count, self.held_by_shard3)


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

    def test_the_admins_list_of_one_shard_shows_what_it_owns_not_a_copy(self):
        admin = get_user_model().objects.create_superuser("a", "a@example.com", "a")
        self.client.force_login(admin)
        self.plan_a_swap()
        move = rebalance.unfinished()[0]
        held = lease.Lease()
        held.acquire()
        rebalance.copy(move, held)  # copied, not switched: on both databases
        url = reverse("admin:reviews_review_changelist")
        listed = {
            alias: {
                r.pk
                for r in self.client.get(url, {"shard": alias})
                .context["cl"]
                .result_list
            }
            for alias in (move.source, move.target)
        }
        self.assertFalse(listed[move.source] & listed[move.target])
        rebalance.thaw([move], held)
        held.release()

    def test_a_process_with_the_old_map_is_refused_until_the_source_is_deleted(self):
        """Switched, not yet deleted: an update or delete sent to the old
        database by a process that has not re-read the map is refused (and
        asked again by the site), never silently applied where no one reads."""
        self.plan_a_swap()
        stale = dict(ShardMap.objects.values_list("logical", "alias"))
        mine = Review.objects.filter(product_id=self.product.pk).first()
        real_delete_source, tried = rebalance.delete_source, []

        def stale_writes_first(move, held):
            if not tried:
                shardmap._cache.aliases, shardmap._cache.checked = stale, time.time()
                for write in (
                    lambda: Review.objects.filter(pk=mine.pk).update(text="x"),
                    lambda: Review.objects.filter(pk=mine.pk).delete(),
                ):
                    with self.assertRaises(DatabaseError):
                        write()
                    tried.append(write)
            return real_delete_source(move, held)

        with mock.patch.object(rebalance, "delete_source", stale_writes_first):
            run_rebalance()
        self.assertEqual(len(tried), 2)
        self.assert_every_review_once_where_the_map_says(self.expected)

    def test_a_statement_older_than_the_grace_finds_nothing_on_the_old_database(self):
        """The limit of a grace measured in time: a statement routed with the
        old map and run only after the source was deleted (a process paused
        longer than SHARD_MAP_GRACE_SECONDS between the two) matches no row
        there. So the grace must outlast any request (gunicorn's timeout)."""
        self.plan_a_swap()
        stale = dict(ShardMap.objects.values_list("logical", "alias"))
        mine = Review.objects.filter(product_id=self.product.pk).first()
        run_rebalance()
        shardmap._cache.aliases, shardmap._cache.checked = stale, time.time()
        self.assertEqual(Review.objects.filter(pk=mine.pk).update(text="x"), 0)
        shardmap.forget()
        self.assertEqual(Review.objects.get(pk=mine.pk).text, mine.text)

    def test_a_shard_with_a_frozen_logical_shard_can_be_flushed(self):
        logical = logical_shard(self.product.pk)
        source = shardmap.alias_of(logical)
        rebalance.set_state(source, logical, LogicalShard.State.FROZEN)
        introspection = connections[source].introspection
        tables = introspection.django_table_names(only_existing=True)
        reviews_first = sorted(tables, key=lambda t: t != Review._meta.db_table)
        with mock.patch.object(
            type(introspection), "django_table_names", return_value=reviews_first
        ):
            call_command("flush", database=source, interactive=False)
        self.assertFalse(Review.objects.using(source).exists())
        self.assertFalse(
            LogicalShard.objects.using(source).exclude(state="owned").exists()
        )

    def test_a_write_that_routed_before_the_freeze_is_refused_not_lost(self):
        """A writer that picked the source before the freeze commits during
        the copy: refused by the source's fence, and the run goes on."""
        self.plan_a_swap()
        logical = logical_shard(self.product.pk)
        late, real_copy_rows = [], rebalance.copy_rows

        def copy_rows_with_a_writer(move, lease):
            if move.logical == logical:
                try:
                    late_review = Review(product_id=self.product.pk, text="late")
                    late_review.save(using=move.source)
                    late.append("accepted")
                except DatabaseError:
                    late.append("refused")
            return real_copy_rows(move, lease)

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
        lease.Lease("elsewhere:0:0:4242:1").acquire()
        with self.assertRaisesMessage(CommandError, "Another rebalance is running"):
            run_rebalance()
        self.assertEqual(len(rebalance.unfinished()), 2)  # not started
        self.assert_every_review_once_where_the_map_says(self.expected)
        self.assert_each_logical_shard_owned_where_the_map_says()

    def test_a_dead_processs_lease_is_taken_over_and_an_expired_one_too(self):
        for owner, expires in [
            (f"{dead_process()}:run", None),  # this machine, no such process
            ("elsewhere:0:0:4242:1:run", "2000-01-01T00:00Z"),  # another, expired
        ]:
            with self.subTest(owner=owner):
                self.plan_a_swap()
                RebalanceLease.objects.update_or_create(
                    defaults={"owner": owner, "expires": expires or "2999-01-01T00:00Z"}
                )
                self.assertIn("left 2 move(s) unfinished", run_rebalance())
                self.assertFalse(rebalance.unfinished())
                self.assert_every_review_once_where_the_map_says(self.expected)

    def test_a_live_process_elsewhere_keeps_its_lease_until_it_expires(self):
        """Another machine, boot or pid namespace (a container on the same
        host): its pid means nothing here, so only the expiry frees it."""
        here = lease.this_process().split(":")
        for field, other in [(0, "elsewhere"), (1, "otherboot"), (2, "1234")]:
            with self.subTest(differs=["host", "boot", "pid namespace"][field]):
                owner = [*here[:3], "999999999", "1", "run"]
                owner[field] = other
                RebalanceLease.objects.update_or_create(
                    defaults={"owner": ":".join(owner), "expires": "2999-01-01T00:00Z"}
                )
                with self.assertRaisesMessage(CommandError, "Another rebalance"):
                    run_rebalance()

    def test_two_runs_in_one_process_are_two_runs(self):
        """A retried job in a thread pool: the same process, another run."""
        first = lease.Lease()
        first.acquire()
        with self.assertRaisesMessage(CommandError, "Another rebalance is running"):
            run_rebalance()
        first.release()
        self.assertIn("Balanced already", run_rebalance())

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


@skipUnless(connections["default"].vendor == "postgresql", "PostgreSQL's locks")
class OpenSiteTransactionTests(SwapCase):
    @override_settings(SHARD_MOVE_LOCK_TIMEOUT_SECONDS=0.5)
    def test_a_write_left_open_fails_the_run_in_time_and_nothing_stays_frozen(self):
        """A request stuck inside its transaction holds the fence's lock on
        its logical shard: the freeze gives up, and the run thaws."""
        self.plan_a_swap()
        product = self.product

        def write_and_stop():
            Review.objects.create(product_id=product.pk, text="slow")

        with left_open(home(product.pk), write_and_stop):
            started = time.monotonic()
            with self.assertRaises(OperationalError):
                run_rebalance()
            self.assertLess(time.monotonic() - started, 10)
        for alias in settings.SHARDS:  # nothing left frozen, or half copied
            held = LogicalShard.objects.using(alias)
            self.assertFalse(held.exclude(state=LogicalShard.State.OWNED).exists())
        self.assertIn("left 2 move(s) unfinished", run_rebalance())
        self.assert_each_logical_shard_owned_where_the_map_says()


class RunThatLostItsLeaseTests(SwapCase):
    """A run paused (SIGSTOP, a long GC) past its lease wakes while another
    run, which took the lease, is working: it can no longer change anything."""

    def test_it_can_neither_take_nor_thaw_what_the_new_run_froze(self):
        self.plan_a_swap()
        stale = lease.Lease("elsewhere:0:0:1:1")
        stale.acquire()
        moves = rebalance.unfinished()
        rebalance.freeze(moves[0], stale)  # then paused, past its lease
        RebalanceLease.objects.update(expires="2000-01-01T00:00Z")
        real_switch, refused = rebalance.switch, []

        def switch_as_the_old_run_wakes(move, held):
            if not refused:  # the new run copied; the old one wakes
                with self.assertRaises(rebalance.MoveRefused):
                    rebalance.freeze(move, stale)  # its epoch is older
                rebalance.thaw(moves, stale)  # and, failing, thaws what it can
                try:
                    Review.objects.create(product_id=self.product.pk, text="lost?")
                    refused.append(False)
                except DatabaseError:
                    refused.append(True)
            return real_switch(move, held)

        with mock.patch.object(rebalance, "switch", switch_as_the_old_run_wakes):
            self.assertIn("left 2 move(s) unfinished", run_rebalance())
        self.assertEqual(refused, [True])  # still frozen: not written, not lost
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
        gone = dead_process()
        for stop in range(1, total + 1):
            for how in HOW:
                # The swap goes back and forth: the databases' names alternate.
                with self.subTest(stop=stop, how=how, at=counted.passed[stop - 1]):
                    self.plan_a_swap()
                    with (
                        # The stopped run's process is gone when the rerun starts.
                        mock.patch.object(lease, "this_process", return_value=gone),
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
