"""Shard keys and review ids: pinned hash vectors, encode/decode properties,
and uniqueness under concurrent writers in threads and in processes."""

import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.db import connections
from django.test import SimpleTestCase, TransactionTestCase
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from project import ids
from project.ids import MAX_MS, MAX_SEQUENCE, allocate, decode, encode
from project.models import LogicalShard
from project.shardkeys import logical_shard
from project.shardmap import alias_of
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, on_sqlite_only

from .helpers import home, left_open, where_is

# Computed once, then pinned: a change here would send every review to
# another logical shard, and strand every review already written.
GOLDEN = {1: 886, 2: 876, 3: 513, 42: 122, 1000: 514, 123456789: 305, 2**62: 155}

ms = st.integers(0, MAX_MS)
logical = st.integers(0, 1023)
sequence = st.integers(0, MAX_SEQUENCE)


class ShardKeyTests(SimpleTestCase):
    def test_golden_vectors(self):
        self.assertEqual({p: logical_shard(p) for p in GOLDEN}, GOLDEN)

    def test_the_hash_is_the_same_in_another_process(self):
        code = "from project.shardkeys import logical_shard; print(logical_shard(42))"
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        self.assertEqual(result.stdout.split()[-1], str(GOLDEN[42]))


class IdEncodingTests(SimpleTestCase):
    @given(ms, logical, sequence)
    def test_decode_inverts_encode(self, m, n, s):
        self.assertEqual(decode(encode(m, n, s)), (m, n, s))

    @given(ms, logical, sequence)
    def test_ids_are_positive_64_bit(self, m, n, s):
        self.assertTrue(0 <= encode(m, n, s) < 2**63)

    @given(st.tuples(ms, logical, sequence), st.tuples(ms, logical, sequence))
    def test_ids_sort_by_time_first(self, a, b):
        self.assertEqual(encode(*a) < encode(*b), a < b)

    def test_out_of_range_parts_are_refused(self):
        for parts in [
            (MAX_MS + 1, 0, 0),
            (0, 1024, 0),
            (0, 0, MAX_SEQUENCE + 1),
            (-1, 0, 0),
        ]:
            with self.subTest(parts=parts), self.assertRaises(ValueError):
                encode(*parts)


class AllocationTests(TransactionTestCase):
    databases = "__all__"

    def test_ids_increase_and_carry_their_logical_shard(self):
        first, second = allocate(7, 3), allocate(7, 2)
        together = first + second
        self.assertEqual(together, sorted(set(together)))
        self.assertEqual({decode(i)[1] for i in together}, {7})

    def test_the_sequence_is_kept_on_the_shard_that_holds_the_logical_shard(self):
        issued = allocate(7, 1)[0]
        self.assertEqual(
            LogicalShard.objects.using(alias_of(7)).get(logical=7).last_ms,
            decode(issued)[0],
        )
        elsewhere = [a for a in settings.SHARDS if a != alias_of(7)]
        for alias in elsewhere:
            self.assertFalse(LogicalShard.objects.using(alias).filter(logical=7))

    def test_a_review_write_asks_only_its_shard(self):
        product = make_product()
        shard = home(product.pk)
        alias_of(logical_shard(product.pk))  # the map, read once per process
        with ExitStack() as only_its_shard:
            for alias in connections:
                if alias != shard:  # default included: no shared id sequence
                    only_its_shard.enter_context(self.assertNumQueries(0, using=alias))
            review = Review.objects.create(product_id=product.pk, text="Here")
        self.assertEqual(where_is(id=review.pk), [shard])

    def test_a_review_is_written_while_default_is_locked_by_a_writer(self):
        product = make_product()
        alias_of(logical_shard(product.pk))  # the map, read once per process

        def lock_default():
            with connections["default"].cursor() as cursor:
                if connections["default"].vendor == "postgresql":
                    cursor.execute(
                        "LOCK TABLE project_shardmap IN ACCESS EXCLUSIVE MODE"
                    )
                else:  # IMMEDIATE: the write lock, from BEGIN on
                    cursor.execute("UPDATE project_shardmap SET version = 1")

        with left_open("default", lock_default):
            started = time.monotonic()
            review = Review.objects.create(product_id=product.pk, text="Unblocked")
            self.assertLess(time.monotonic() - started, 2)  # no wait on default
        self.assertEqual(where_is(id=review.pk), [home(product.pk)])

    def test_a_full_millisecond_goes_on_in_the_next_without_waiting(self):
        now = ids.now_ms() + 10_000  # later than any id issued yet
        with mock.patch.object(ids, "now_ms", return_value=now):
            batch = allocate(3, MAX_SEQUENCE + 2)
        times = [decode(i)[0] for i in batch]
        self.assertEqual(times.count(now), MAX_SEQUENCE + 1)
        self.assertEqual(times[-1], now + 1)
        self.assertEqual(decode(batch[-1])[2], 0)
        self.assertEqual(batch, sorted(set(batch)))

    def test_a_clock_behind_the_last_id_goes_on_after_it(self):
        now, hour = ids.now_ms() + 10_000, 3_600_000
        with mock.patch.object(ids, "now_ms", return_value=now + hour):
            fast = allocate(9, 1)  # a server whose clock is an hour fast
        with mock.patch.object(ids, "now_ms", return_value=now):
            right = allocate(9, 2)  # one with the right clock: no error
        self.assertLess(fast[0], right[0])
        self.assertEqual(right, sorted(set(right)))
        self.assertEqual(decode(right[-1])[0], now + hour)

    def test_a_review_after_a_fast_clocks_review_is_accepted_on_the_site(self):
        product = make_product()
        with mock.patch.object(ids, "now_ms", return_value=ids.now_ms() + 3_600_000):
            Review.objects.create(product_id=product.pk, text="From the fast server")
        response = self.client.post(
            reverse("write_review", args=[product.pk]), {"text": "From this one"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(
            Review.objects.filter(product_id=product.pk, text="From this one").count(),
            1,
        )

    def test_unique_across_threads(self):
        issued, errors = [], []

        def writer():
            try:
                for _ in range(40):
                    issued.extend(allocate(11, 5))
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(issued), 4 * 40 * 5)
        self.assertEqual(len(set(issued)), len(issued))


@on_sqlite_only
class ProcessesTests(SimpleTestCase):
    def test_unique_across_processes(self):
        """Four processes allocate from one database file at the same time."""
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "SQLITE_DIR": scratch}
            manage = [sys.executable, "manage.py"]
            run = dict(cwd=settings.BASE_DIR, env=env, text=True)
            migrate = "from django.core.management import call_command as run\n"
            for alias in ["default", *settings.SHARDS]:
                migrate += f"run('migrate', database={alias!r}, verbosity=0)\n"
            subprocess.run([*manage, "shell", "-c", migrate], check=True, **run)
            code = (
                "from project.ids import allocate\n"
                "print(*[i for _ in range(50) for i in allocate(5, 4)])"
            )
            workers = [
                subprocess.Popen([*manage, "shell", "-c", code], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, **run)
                for _ in range(4)
            ]  # fmt: skip
            issued = []
            for worker in workers:
                out, err = worker.communicate(timeout=120)
                self.assertEqual(worker.returncode, 0, err)
                issued += [int(i) for i in out.split()[-200:]]
            self.assertTrue(Path(scratch, "shard1.sqlite3").exists())
        self.assertEqual(len(issued), 800)
        self.assertEqual(len(set(issued)), 800)
