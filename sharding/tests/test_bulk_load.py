"""The bulk load of setup_demo: a reserved block of ids, shard writer threads,
and nothing left behind by a load that fails or was killed."""

import threading
from io import StringIO
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.test import TransactionTestCase

from project import bulkload, fence, ids, productstats, rebalance, shardmap
from project.ids import MAX_SEQUENCE, allocate, decode
from project.management.commands import setup_demo as sharded_setup_demo
from project.models import LogicalShard
from project.shardkeys import logical_shard
from project.shardmap import alias_of
from reviewsite.demo_data import DemoData
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_review, raw_count

from .helpers import home, stored_reviews, where_is
from .test_productstats import counted, kept


class ReservedBlockTests(TransactionTestCase):
    databases = "__all__"

    def claim_everywhere(self, block: ids.Block) -> None:
        """What each shard's writer does in its load's transaction."""
        for alias, logicals in shardmap.ownership().items():
            with transaction.atomic(using=alias):
                ids.claim(block, alias, logicals)

    def test_a_block_comes_after_every_id_issued_and_before_the_next(self):
        before = allocate(5, 3) + allocate(900, 1)
        block = ids.reserve(10_000)
        self.claim_everywhere(block)
        taken = [block.take(5) for _ in range(5000)] + [block.take(900)]
        after = allocate(5, 1) + allocate(900, 1)
        self.assertLess(max(before), min(taken))
        self.assertLess(max(taken), min(after))
        self.assertEqual(taken[:5000], sorted(set(taken[:5000])))
        self.assertEqual({decode(i)[1] for i in taken[:5000]}, {5})

    def test_a_block_holds_count_ids_of_one_logical_shard_and_no_more(self):
        block = ids.reserve(MAX_SEQUENCE + 2)  # two milliseconds
        issued = [block.take(7) for _ in range(2 * (MAX_SEQUENCE + 1))]
        self.assertEqual(len(set(issued)), len(issued))
        with self.assertRaises(ValueError):
            block.take(7)
        low, high = block.id_range()
        self.assertTrue(all(low <= i <= high for i in issued))

    def test_ids_grow_in_the_order_taken_so_a_load_appends(self):
        block = ids.reserve(10_000)
        shards = [(n * 7919) % 1024 for n in range(10_000)]  # all over the map
        taken = [block.take(logical) for logical in shards]
        self.assertEqual(len(set(taken)), len(taken))
        times = [decode(i)[0] for i in taken]
        self.assertEqual(times, sorted(times))
        self.assertEqual(times[-1] - times[0], 2)  # 10,000 ids: 3 milliseconds
        for logical in (0, 7919 % 1024, 1023):
            mine = [i for i, n in zip(taken, shards, strict=True) if n == logical]
            self.assertEqual(mine, sorted(mine))

    def test_a_block_after_a_fast_clocks_ids_starts_after_them_without_waiting(self):
        fast = ids.now_ms() + 3_600_000  # a server whose clock is an hour fast
        with mock.patch.object(ids, "now_ms", return_value=fast):
            allocate(3, 1)
        block = ids.reserve(3 * (MAX_SEQUENCE + 1))  # three milliseconds, now
        self.assertEqual((block.start_ms, block.end_ms), (fast + 1, fast + 3))

    def test_a_load_refuses_its_block_if_an_id_in_it_was_issued_since(self):
        block = ids.reserve(10)
        with mock.patch.object(ids, "now_ms", return_value=block.end_ms):
            allocate(3, 1)  # a review written on the site meanwhile
        alias = alias_of(3)
        with (
            self.assertRaisesMessage(ValueError, "since the block was reserved"),
            transaction.atomic(using=alias),
        ):
            ids.claim(block, alias, shardmap.ownership()[alias])

    def test_a_load_refuses_a_logical_shard_frozen_since_the_map_was_read(self):
        block = ids.reserve(10)
        alias = alias_of(3)
        rebalance.set_state(alias, 3, LogicalShard.State.FROZEN)
        self.addCleanup(rebalance.set_state, alias, 3, LogicalShard.State.OWNED)
        with (
            self.assertRaisesMessage(ValueError, "no longer owns"),
            transaction.atomic(using=alias),
        ):
            ids.claim(block, alias, shardmap.ownership()[alias])


def setup_demo(*args: str) -> str:
    out = StringIO()
    call_command("setup_demo", "--products", "12", "--users", "3", *args, stdout=out)
    return out.getvalue()


class BulkLoadTests(TransactionTestCase):
    databases = "__all__"

    def shard_counts(self) -> dict[str, int]:
        return {alias: raw_count(alias, Review) for alias in settings.SHARDS}

    def test_every_review_lands_on_its_product_shard_with_an_id_of_its_shard(self):
        # Small batches: many of them, queued and written by each thread.
        with mock.patch.object(sharded_setup_demo, "ROWS_PER_BATCH", 7):
            setup_demo("--reviews", "500")
        rows = stored_reviews()
        self.assertEqual(len(rows), 500)
        self.assertEqual(len({row[0] for row in rows}), 500)
        for review_id, product_id, *_ in rows:
            self.assertEqual(where_is(id=review_id), [home(product_id)])
            self.assertEqual(ids.shard_of(review_id), logical_shard(product_id))

    def test_the_figures_of_a_load_are_counted_and_the_triggers_back(self):
        setup_demo("--reviews", "300")
        self.assertEqual(kept(), counted())
        product = Product.objects.first()
        make_review(product, rating=5, text="after the load")
        self.assertEqual(kept(), counted())  # a trigger counted it
        for alias in settings.SHARDS:  # and the fence is back on every shard
            self.assertTrue(fence.installed(alias))

    def test_a_load_suspends_the_fence_only_for_its_own_transaction(self):
        alias = settings.SHARDS[0]
        with (
            self.assertRaisesMessage(RuntimeError, "only inside a transaction"),
            fence.suspended(alias),
        ):
            pass
        self.assertTrue(fence.installed(alias))

    def test_a_failed_shard_write_leaves_no_review_and_no_product(self):
        real = bulkload.insert_reviews
        calls = []

        def fail_on_third_batch(alias, rows, **kwargs):
            calls.append(alias)
            if len(calls) == 3:
                raise OSError("disk full")
            real(alias, rows, **kwargs)

        with (
            mock.patch.object(sharded_setup_demo, "ROWS_PER_BATCH", 20),
            mock.patch.object(bulkload, "insert_reviews", fail_on_third_batch),
            self.assertRaises(OSError),
        ):
            setup_demo("--reviews", "400")
        self.assertGreaterEqual(len(calls), 3)
        self.assertEqual(self.shard_counts(), dict.fromkeys(settings.SHARDS, 0))
        self.assertEqual(raw_count("default", Product), 0)
        # A rerun does the whole job.
        setup_demo("--reviews", "400")
        self.assertEqual(sum(self.shard_counts().values()), 400)

    def shards_at_undo(self) -> list[dict]:
        """Patches undo_reviews() to note what the shards held when it ran."""
        seen = []
        real = sharded_setup_demo.Command.undo_reviews

        def noting(command, *args):
            seen.append(self.shard_counts())
            return real(command, *args)

        patcher = mock.patch.object(sharded_setup_demo.Command, "undo_reviews", noting)
        patcher.start()
        self.addCleanup(patcher.stop)
        return seen

    def test_a_failure_in_the_main_thread_rolls_every_shard_back(self):
        seen = self.shards_at_undo()
        real = DemoData.reviews

        def two_batches_then_a_crash(data, *args, **kwargs):
            batches = real(data, *args, **kwargs)
            yield next(batches)
            yield next(batches)
            raise KeyboardInterrupt

        with (
            mock.patch.object(sharded_setup_demo, "ROWS_PER_BATCH", 20),
            mock.patch.object(DemoData, "reviews", two_batches_then_a_crash),
            mock.patch("reviewsite.demo_data.BATCH_SIZE", 100),
            self.assertRaises(KeyboardInterrupt),
        ):
            setup_demo("--reviews", "1000")
        # Rolled back, not committed and deleted afterwards.
        self.assertEqual(seen, [dict.fromkeys(settings.SHARDS, 0)])
        self.assertEqual(self.shard_counts(), dict.fromkeys(settings.SHARDS, 0))

    def test_a_failure_after_the_last_batch_is_raised_not_waited_for(self):
        seen = self.shards_at_undo()
        outcome = []

        def run():
            try:
                setup_demo("--reviews", "50")
            except OSError as error:
                outcome.append(error)
            finally:
                connections.close_all()

        with mock.patch.object(productstats, "recount", side_effect=OSError("full")):
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            thread.join(30)
        self.assertFalse(thread.is_alive(), "setup_demo hung after a failed recount")
        self.assertEqual([str(e) for e in outcome], ["full"])
        self.assertEqual(seen, [dict.fromkeys(settings.SHARDS, 0)])

    def test_reviews_a_killed_run_left_without_products_are_removed(self):
        product = Product.objects.create(name="Gone", price=1)
        make_review(product, text="left behind")
        # As if default's transaction never committed (SQL: no delete signals).
        with connections["default"].cursor() as cursor:
            cursor.execute(f"DELETE FROM {Product._meta.db_table}")
        out = setup_demo("--reviews", "30")
        self.assertIn("Removed 1 reviews a stopped run left", out)
        self.assertEqual(sum(self.shard_counts().values()), 30)
        self.assertFalse(
            Review.objects.using(home(product.pk)).filter(text="left behind").exists()
        )


class TriggersAfterMigrateTests(TransactionTestCase):
    databases = "__all__"

    def test_a_migration_that_lost_the_triggers_puts_them_back_and_recounts(self):
        product = Product.objects.create(name="Kept", price=1)
        make_review(product, rating=4)
        shard = home(product.pk)
        # What SQLite's table rebuild (AlterField) does to them: gone.
        productstats.uninstall(shard)
        make_review(product, rating=2)  # not counted: no trigger
        self.assertNotEqual(kept(), counted())
        fence.uninstall(shard)
        call_command("migrate", database=shard, verbosity=0)
        self.assertTrue(productstats.installed(shard))
        self.assertTrue(fence.installed(shard))
        self.assertEqual(kept(), counted())
        make_review(product, rating=5)
        self.assertEqual(kept(), counted())
