"""rebalance in real processes, on databases of their own: SIGKILLed right
after a commit on one database and before the next on another, then rerun;
and two runs at once while three writer processes create, edit and delete.
Every review is then found once, where the map says, with the last content
a writer was told was saved."""

import signal
import tempfile
import time
from pathlib import Path

from django.test import SimpleTestCase

from .scratch import Scratch
from .writer import expected


class InOtherProcessesTests(SimpleTestCase):
    databases = {"default"}  # PostgreSQL: to create the scratch databases

    def setUp(self):
        self.scratch = Scratch()
        self.addCleanup(self.scratch.close)
        out = self.scratch.finish("setup_demo", "--reviews", "600", shards=4)
        self.assertIn("Created 600 reviews", out)
        self.initial = self.texts(self.scratch.state(shards=4))

    def start_writers(self, logs: str, stop: Path, shards: int) -> list:
        """Three writer processes (tests/writer.py), logging to ``logs``,
        until ``stop`` exists."""
        return [
            self.scratch.python(
                f"from tests.writer import main; "
                f"main('w{n}', {str(Path(logs, f'w{n}'))!r}, {str(stop)!r})",
                shards=shards,
            )
            for n in range(3)
        ]

    def stop_writers(self, writers: list, stop: Path) -> None:
        stop.touch()
        for writer in writers:
            out, err = writer.communicate(timeout=60)
            self.assertEqual(writer.returncode, 0, out + err)

    def texts(self, state: dict) -> dict[int, str]:
        return {review_id: text for review_id, _, _, text in state["reviews"]}

    def assert_each_review_once_where_the_map_says(self, state, reviews: dict):
        found = [row[0] for row in state["reviews"]]
        self.assertEqual(len(found), len(set(found)), "a review is stored twice")
        self.assertEqual(self.texts(state), reviews)  # none lost, last content
        for _, logical, alias, _ in state["reviews"]:
            self.assertEqual(state["map"][str(logical)], alias)
        owned = {(n, alias) for n, alias, held in state["held"] if held == "owned"}
        self.assertEqual(len(owned), len(state["held"]), "a logical shard not open")
        self.assertEqual(owned, {(int(n), a) for n, a in state["map"].items()})
        self.assertEqual(state["unfinished"], 0)

    def test_sigkilled_between_commits_on_two_databases_then_rerun(self):
        for at, shards, drain in [
            ("COMMIT on shard4 in copy_rows", 5, 0),  # the copy, not recorded
            ("COMMIT on default in switch", 4, 5),  # switched, target not open
            ("in delete_source", 5, 0),  # source deleted, DONE not recorded
        ]:
            with self.subTest(killed_after=at, shards=shards):
                code = f"from tests.crashpoints import *; sigkill_rebalance_at({at!r})"
                process = self.scratch.python(code, shards, drain)
                out, err = process.communicate(timeout=300)
                self.assertEqual(process.returncode, -signal.SIGKILL, out + err)
                midway, state = self.scratch.states("rebalance", shards, drain)
                self.assertGreater(midway["unfinished"], 0)  # killed mid-way
                self.assertEqual(self.texts(midway).keys(), self.initial.keys())
                self.assertIn("unfinished", self.scratch.output)  # and finished
                self.assert_each_review_once_where_the_map_says(state, self.initial)
                self.assertEqual(len(set(state["map"].values())), shards)

    def test_two_runs_at_once_while_writers_write(self):
        with tempfile.TemporaryDirectory() as logs:
            stop = Path(logs, "stop")
            writers = self.start_writers(logs, stop, shards=5)
            first = self.scratch.manage("rebalance", shards=5)
            time.sleep(0.3)  # a second operator, or a retried cron job
            second = self.scratch.manage("rebalance", shards=5)
            runs = [run.communicate(timeout=300) for run in (first, second)]
            self.stop_writers(writers, stop)
            codes = sorted(run.returncode for run in (first, second))
            self.assertEqual(codes, [0, 1], runs)
            refused = [out + err for out, err in runs if "Done" not in out]
            self.assertIn("Another rebalance is running", refused[0])
            reviews, missing = expected(self.initial, list(Path(logs).glob("w?")))
        self.assertEqual(missing, [])  # no writer lost sight of its own review
        self.assertGreater(len(reviews), len(self.initial))  # the writers wrote
        state = self.scratch.state(shards=5)
        self.assert_each_review_once_where_the_map_says(state, reviews)
        self.assertEqual(len(set(state["map"].values())), 5)

    def test_four_shards_onto_eight_while_writers_write(self):
        """The move of a site that outgrew its servers: in pg-sharding each
        of the eight shards is a PostgreSQL server of its own."""
        with tempfile.TemporaryDirectory() as logs:
            stop = Path(logs, "stop")
            writers = self.start_writers(logs, stop, shards=8)
            out = self.scratch.finish("rebalance", shards=8)
            self.stop_writers(writers, stop)
            reviews, missing = expected(self.initial, list(Path(logs).glob("w?")))
        self.assertIn("Done", out)
        self.assertEqual(missing, [])  # no writer lost sight of its own review
        self.assertGreater(len(reviews), len(self.initial))  # the writers wrote
        state = self.scratch.state(shards=8)
        self.assert_each_review_once_where_the_map_says(state, reviews)
        self.assertEqual(len(set(state["map"].values())), 8)
