"""Adding a database: rebalance moves whole logical shards, about 1/(N+1) of
the reviews, and a run killed at any step is finished by the next one."""

from io import StringIO
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.test import TransactionTestCase, override_settings
from django.urls import reverse

from project import rebalance, shardmap
from project.models import ShardMap, ShardMove
from project.shardkeys import logical_shard
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product

from .helpers import newest, stored_reviews

OLD = settings.SHARDS[:3]  # the databases before the fourth is added


def run_rebalance(*args) -> str:
    out = StringIO()
    call_command("rebalance", *args, stdout=out)
    return out.getvalue()


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class RebalanceTests(TransactionTestCase):
    databases = "__all__"

    def setUp(self):
        for n in range(settings.LOGICAL_SHARDS):
            ShardMap.objects.filter(logical=n).update(alias=OLD[n % len(OLD)])
        shardmap.forget()
        products = [make_product(f"P{n}") for n in range(60)]
        Review.objects.bulk_create(
            Review(product_id=products[n % 60].pk, text=f"review {n}", rating=n % 5 + 1)
            for n in range(300)
        )
        self.before = stored_reviews()

    def assert_every_review_in_place_once(self):
        self.assertEqual(stored_reviews(), self.before)  # none lost, none doubled
        shardmap.forget()
        for row in self.before:
            alias = shardmap.alias_of(logical_shard(row[1]))
            self.assertEqual(Review.objects.using(alias).filter(pk=row[0]).count(), 1)

    def assert_every_review_readable(self):
        shardmap.forget()
        for review_id, *_ in self.before:
            self.assertEqual(
                self.client.get(reverse("review", args=[review_id])).status_code, 200
            )

    def test_dry_run_prints_the_plan_and_moves_nothing(self):
        out = run_rebalance("--dry-run")
        self.assertIn("Plan: move 256 of 1024 logical shards", out)
        self.assertIn("from shard0 to shard3", out)
        self.assertFalse(ShardMove.objects.exists())
        self.assertEqual(stored_reviews(), self.before)

    def test_adding_a_database_moves_about_a_quarter_of_the_reviews(self):
        plan = rebalance.plan(settings.SHARDS)
        share = plan.rows_moved / plan.rows_total
        self.assertTrue(0.18 <= share <= 0.32, share)  # 1/(N+1) = 25%
        out = run_rebalance()
        self.assertIn(f"{plan.rows_moved} of 300 reviews", out)
        counts = {a: ShardMap.objects.filter(alias=a).count() for a in settings.SHARDS}
        self.assertEqual(set(counts.values()), {256})
        self.assert_every_review_in_place_once()
        self.assertIn("Balanced already.", run_rebalance())

    def test_killed_at_any_step_a_rerun_finishes_with_nothing_lost(self):
        steps = [
            "freeze",
            "copy",
            "fingerprint",
            "switch",
            "delete_source",
            "delete_rows",
        ]
        for step in steps:
            for nth in [1, 40]:
                with self.subTest(step=step, nth=nth):
                    self.kill_at(step, nth)
                    self.assert_every_review_readable()
                    run_rebalance()
                    self.assertFalse(rebalance.unfinished())
                    self.assert_every_review_in_place_once()
                    self.reset_to_old_databases()

    def kill_at(self, step: str, nth: int) -> None:
        real = getattr(rebalance, step)
        calls = []

        def dies_on_nth_call(*args, **kwargs):
            calls.append(1)
            if len(calls) == nth:
                raise KeyboardInterrupt(f"killed in {step}")
            return real(*args, **kwargs)

        with (
            mock.patch.object(rebalance, step, dies_on_nth_call),
            self.assertRaises(KeyboardInterrupt),
        ):
            run_rebalance()

    def reset_to_old_databases(self):
        """Move everything back onto OLD, for the next case."""
        with override_settings(SHARDS=OLD):
            run_rebalance()
        self.assert_every_review_in_place_once()

    def test_writes_to_a_moving_logical_shard_wait(self):
        review = Review.objects.filter(pk=self.before[0][0]).first()
        logical = logical_shard(review.product_id)
        rebalance.freeze(logical)
        response = self.client.post(
            reverse("write_review", args=[review.product_id]),
            {"text": "During the move"},
        )
        self.assertContains(response, "being moved", status_code=503)
        self.assertNotIn("During the move", str(stored_reviews()))
        self.assertEqual(stored_reviews(), self.before)


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class FoundAfterMoveTests(TransactionTestCase):
    databases = "__all__"

    def test_a_review_is_found_from_its_id_with_a_map_from_before_the_move(self):
        import time

        for n in range(settings.LOGICAL_SHARDS):
            ShardMap.objects.filter(logical=n).update(alias=OLD[n % len(OLD)])
        shardmap.forget()
        product = make_product()
        review = Review.objects.create(product_id=product.pk, text="Moved")
        stale = dict(ShardMap.objects.values_list("logical", "alias"))
        logical = logical_shard(product.pk)
        ShardMove.objects.create(
            logical=logical, source=stale[logical], target="shard3"
        )
        rebalance.run(rebalance.unfinished(), grace=0, say=lambda message: None)
        # This process still believes the old map (another process would).
        shardmap._cache.aliases, shardmap._cache.checked = stale, time.time()
        response = self.client.get(reverse("review", args=[review.pk]))
        self.assertContains(response, "Moved")
        self.assertEqual(shardmap._cache.aliases[logical], "shard3")  # refreshed


@override_settings(SHARD_MAP_GRACE_SECONDS=0)
class DuringAMoveTests(TransactionTestCase):
    """Rows a database holds without owning them (a copy being made, or not
    deleted yet) are read once; a late write to the source is not lost."""

    databases = "__all__"

    def setUp(self):
        for n in range(settings.LOGICAL_SHARDS):
            ShardMap.objects.filter(logical=n).update(alias=OLD[n % len(OLD)])
        shardmap.forget()
        self.product = make_product()
        for n in range(30):
            Review.objects.create(product_id=self.product.pk, text=f"moving {n}")
        self.logical = logical_shard(self.product.pk)
        self.move = ShardMove.objects.create(
            logical=self.logical, source=OLD[self.logical % 3], target="shard3"
        )

    def latest_ids(self) -> list[int]:
        from .test_pages import walk_latest

        return walk_latest(self.client)

    def test_a_copied_shard_is_listed_once_before_and_after_the_switch(self):
        oracle = [r[0] for r in sorted(stored_reviews(), key=newest, reverse=True)]
        self.move.rows, self.move.checksum = rebalance.copy(self.move)
        self.assertEqual(len(stored_reviews()), 60)  # on both databases now
        self.assertEqual(self.latest_ids(), oracle)
        rebalance.switch(self.move)
        self.assertEqual(self.latest_ids(), oracle)
        page = self.client.get(reverse("shards"))
        self.assertEqual(page.context["reviews"], 30)

    def test_a_write_that_reached_the_source_late_is_carried_over(self):
        self.move.rows, self.move.checksum = rebalance.copy(self.move)
        self.move.state = ShardMove.State.COPIED
        self.move.save()
        rebalance.switch(self.move)
        # A writer that read the map before the freeze commits to the source now.
        late = Review(product_id=self.product.pk, text="Late but kept")
        late.save(using=self.move.source)
        said = []
        rebalance.delete_source(self.move, say=said.append)
        self.assertEqual(
            Review.objects.using("shard3").filter(text="Late but kept").count(), 1
        )
        self.assertEqual(
            Review.objects.using(self.move.source).filter(pk=late.pk).count(), 0
        )
        self.assertIn("carried 1 late write(s)", said[0])

    def test_late_writes_never_undo_what_the_target_changed_since(self):
        self.move.rows, self.move.checksum = rebalance.copy(self.move)
        self.move.versions = rebalance.versions_of("shard3", self.logical)
        self.move.state = ShardMove.State.COPIED
        self.move.save()
        rebalance.switch(self.move)
        first, second, third = Review.objects.using("shard3").order_by("pk")[:3]
        source = Review.objects.using(self.move.source)
        # After the switch, on the target: an edit and a delete...
        Review.objects.using("shard3").filter(pk=first.pk).update(text="newer")
        Review.objects.using("shard3").filter(pk=third.pk).delete()
        # ...and late writes from before it, on the source.
        source.filter(pk=first.pk).update(text="older, late")
        source.filter(pk=third.pk).update(text="older, late")
        source.filter(pk=second.pk).delete()
        rebalance.delete_source(self.move, say=lambda message: None)
        on_target = Review.objects.using("shard3")
        self.assertEqual(on_target.get(pk=first.pk).text, "newer")
        self.assertFalse(on_target.filter(pk=second.pk).exists())  # late delete
        self.assertFalse(on_target.filter(pk=third.pk).exists())  # not brought back
        self.assertEqual(on_target.count(), 28)  # 30, less one deleted on each side
