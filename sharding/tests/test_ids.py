"""Shard keys and review ids: pinned hash vectors, encode/decode properties,
and uniqueness under concurrent writers in threads and in processes."""

import os
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.db import connections
from django.test import SimpleTestCase, TransactionTestCase
from hypothesis import given
from hypothesis import strategies as st

from project import ids
from project.ids import MAX_MS, MAX_SEQUENCE, allocate, decode, encode
from project.shardkeys import logical_shard
from reviewsite.testing import on_sqlite_only

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
    databases = {"default"}

    def test_ids_increase_and_carry_their_logical_shard(self):
        first, second = allocate(7, 3), allocate(7, 2)
        together = first + second
        self.assertEqual(together, sorted(set(together)))
        self.assertEqual({decode(i)[1] for i in together}, {7})

    def test_a_full_millisecond_waits_for_the_next(self):
        with mock.patch.object(ids, "now_ms", side_effect=[1000, 1000, 1001]):
            batch = allocate(3, MAX_SEQUENCE + 2)
        times = [decode(i)[0] for i in batch]
        self.assertEqual(times.count(1000), MAX_SEQUENCE + 1)
        self.assertEqual(times[-1], 1001)
        self.assertEqual(decode(batch[-1])[2], 0)

    def test_a_clock_that_went_back_is_refused(self):
        with mock.patch.object(ids, "now_ms", return_value=5000):
            allocate(9, 1)
        with (
            mock.patch.object(ids, "now_ms", return_value=4999),
            self.assertRaises(ids.ClockWentBackwards),
        ):
            allocate(9, 1)

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
            subprocess.run([*manage, "migrate", "-v", "0"], check=True, **run)
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
            self.assertTrue(Path(scratch, "default.sqlite3").exists())
        self.assertEqual(len(issued), 800)
        self.assertEqual(len(set(issued)), 800)
