"""replicate killed with SIGKILL while the primary is written, in a real
process: every replica is still a whole, consistent copy; a rerun catches up."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

from reviewsite.testing import on_sqlite_only

PAIRS = "SELECT COUNT(*) FROM reviews_review WHERE text = 'pair'"


@on_sqlite_only
class KilledReplicateTests(SimpleTestCase):
    def manage(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR,
            env={**os.environ, "SQLITE_DIR": self.scratch}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def write_pairs(self, stop: threading.Event) -> None:
        """Reviews two at a time, one transaction each, straight into the primary."""
        db = sqlite3.connect(Path(self.scratch) / "primary.sqlite3", timeout=20)
        product = db.execute("SELECT MIN(id) FROM products_product").fetchone()[0]
        while not stop.is_set():
            with db:
                for _ in range(2):
                    db.execute(
                        "INSERT INTO reviews_review (product_id, text, created)"
                        " VALUES (?, 'pair', datetime('now'))",
                        [product],
                    )
        db.close()

    def replica(self, alias: str) -> tuple[str, int]:
        db = sqlite3.connect(
            f"file:{Path(self.scratch) / alias}.sqlite3?mode=ro", uri=True
        )
        try:
            return db.execute("PRAGMA integrity_check").fetchone()[0], db.execute(
                PAIRS
            ).fetchone()[0]
        finally:
            db.close()

    def test_sigkill_mid_copy_leaves_whole_replicas_and_a_rerun_catches_up(self):
        with tempfile.TemporaryDirectory() as self.scratch:
            out, err = self.manage("setup_demo", "--reviews", "2000").communicate(
                timeout=300
            )
            self.assertIn("Ready.", out, err)
            stop = threading.Event()
            writer = threading.Thread(target=self.write_pairs, args=(stop,))
            writer.start()
            rng = random.Random(2010)
            try:
                for _ in range(4):
                    follow = self.manage("replicate", "--follow", "--interval", "0.01")
                    time.sleep(rng.uniform(0.5, 2.0))  # a real process, a real moment
                    follow.send_signal(signal.SIGKILL)
                    follow.communicate(timeout=60)
                    for alias in settings.REPLICAS:
                        with self.subTest(alias=alias):
                            ok, pairs = self.replica(alias)
                            self.assertEqual(ok, "ok")
                            self.assertEqual(pairs % 2, 0)  # never half a transaction
            finally:
                stop.set()
                writer.join(30)
            out, err = self.manage("replicate").communicate(timeout=120)
            self.assertEqual(err, "")
            with sqlite3.connect(Path(self.scratch) / "primary.sqlite3") as primary:
                written = primary.execute(PAIRS).fetchone()[0]
            primary.close()
            self.assertGreater(written, 0)
            for alias in settings.REPLICAS:
                self.assertEqual(self.replica(alias), ("ok", written))
