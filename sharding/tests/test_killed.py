"""rebalance killed with SIGKILL at random moments, in a real process: a rerun
finishes the job with every review on its shard, once."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

from reviewsite.testing import on_sqlite_only


@on_sqlite_only
class KilledRebalanceTests(SimpleTestCase):
    def manage(self, *args: str, shards: int, **popen):
        env = {**os.environ, "SQLITE_DIR": self.scratch, "SHARD_DATABASES": str(shards)}
        command = [sys.executable, "manage.py", *args]
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
        )  # fmt: skip

    def finish(self, *args: str, shards: int) -> str:
        out, err = self.manage(*args, shards=shards).communicate(timeout=300)
        return out + err

    def rows(self) -> Counter:
        """(review id, database) of every review row in every shard file."""
        found = Counter()
        for path in Path(self.scratch).glob("shard*.sqlite3"):
            with sqlite3.connect(path) as db:
                for (review_id,) in db.execute("SELECT id FROM reviews_review"):
                    found[review_id, path.stem] += 1
            db.close()
        return found

    def shard_map(self) -> dict[int, str]:
        with sqlite3.connect(Path(self.scratch) / "default.sqlite3") as db:
            rows = dict(db.execute("SELECT logical, alias FROM project_shardmap"))
        db.close()
        return rows

    def wait_for_the_plan(self) -> None:
        """Until rebalance has recorded its moves (start-up and migrate done)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            db = sqlite3.connect(Path(self.scratch) / "default.sqlite3", timeout=5)
            try:
                if db.execute("SELECT COUNT(*) FROM project_shardmove").fetchone()[0]:
                    return
            except sqlite3.OperationalError:
                pass  # locked by the writer: ask again
            finally:
                db.close()
            time.sleep(0.02)  # polling another process, not waiting on a clock
        self.fail("rebalance recorded no plan within 120 s")

    def assert_each_review_once_where_the_map_says(self, ids: set[int]) -> None:
        rows = self.rows()
        self.assertEqual(sum(rows.values()), len(ids))  # no copy left behind
        self.assertEqual({review_id for review_id, _ in rows}, ids)  # none lost
        shard_map = self.shard_map()
        for review_id, alias in rows:
            self.assertEqual(shard_map[(review_id >> 12) & 1023], alias)

    def test_sigkill_at_random_moments_then_a_rerun_loses_nothing(self):
        rng = random.Random(2010)
        # From the recorded plan on: copies, switches, the grace wait (2 s).
        for moment in sorted(rng.uniform(0.0, 2.0) for _ in range(3)):
            with (
                self.subTest(killed_after=f"{moment:.2f} s"),
                tempfile.TemporaryDirectory() as self.scratch,
            ):
                out = self.finish("setup_demo", "--reviews", "3000", shards=4)
                self.assertIn("Created 3000 reviews", out)
                ids = {review_id for review_id, _ in self.rows()}
                process = self.manage("rebalance", shards=5)
                self.wait_for_the_plan()
                time.sleep(moment)  # a real process, killed at a real moment
                process.send_signal(signal.SIGKILL)
                process.communicate(timeout=60)
                out = self.finish("rebalance", shards=5)
                self.assertIn("left 204 move(s) unfinished", out)  # killed mid-way
                self.assertNotIn("Traceback", out)
                self.assert_each_review_once_where_the_map_says(ids)
                self.assertIn("shard4", set(self.shard_map().values()))
                self.assertIn("Balanced already", self.finish("rebalance", shards=5))
