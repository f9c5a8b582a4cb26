"""reviewsite/supervisor.py, with small Python children: what ``manage.py
demo`` relies on, without a server to start."""

import os
import re
import signal
import sys

from django.test import SimpleTestCase

from reviewsite.supervisor import ChildEnded, run_together


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


class RunTogetherTests(SimpleTestCase):
    def assertGroupsEnded(self, lines: list[str]) -> None:
        """Nothing is left of any child: each ran in a process group of its
        own, whose number its ``started (pid N)`` line gives."""
        pids = [
            int(pid) for pid in re.findall(r"started \(pid (\d+)\)", "\n".join(lines))
        ]
        self.assertTrue(pids, lines)
        for pid in pids:
            with self.assertRaises(ProcessLookupError, msg=f"group {pid} left"):
                os.killpg(pid, 0)

    def test_a_child_that_ends_stops_the_others_and_is_named(self):
        lines = []
        with self.assertRaises(ChildEnded) as ended:
            run_together(
                {
                    "web": python("import time; time.sleep(60)"),
                    "follower": python("print('copied'); raise SystemExit(3)"),
                },
                lines.append,
            )
        self.assertEqual(
            (ended.exception.name, ended.exception.returncode), ("follower", 3)
        )
        self.assertEqual(str(ended.exception), "follower ended by itself (exit code 3)")
        self.assertIn("follower | copied", lines)  # prefixed, names aligned
        self.assertIn("web      | ", "\n".join(lines))
        self.assertGroupsEnded(lines)

    def test_a_stop_signal_stops_every_child_killing_one_that_ignores_it(self):
        lines = []
        handler = signal.getsignal(signal.SIGTERM)
        stopped_by = run_together(
            {
                # Ignores Ctrl-C, then sends the stop signal to the supervisor.
                "stubborn": python(
                    "import os, signal, time; "
                    "signal.signal(signal.SIGINT, signal.SIG_IGN); "
                    "os.kill(os.getppid(), signal.SIGTERM); time.sleep(60)"
                ),
                "polite": python("import time; time.sleep(60)"),
            },
            lines.append,
            grace=0.5,
        )
        self.assertEqual(stopped_by, signal.SIGTERM)
        self.assertGroupsEnded(lines)
        # The handler is put back: this test's own process is as it was.
        self.assertEqual(signal.getsignal(signal.SIGTERM), handler)

    def test_output_that_cannot_be_written_stops_the_demo_not_the_children(self):
        """``make demo | head``: once head has gone, lines cannot be written.
        The children must not block on a full pipe, unseen (BREAK-IT)."""
        lines = []

        def write(line: str) -> None:
            if len(lines) >= 3:
                raise BrokenPipeError(32, "Broken pipe")
            lines.append(line)

        stopped_by = run_together(
            {"chatty": python("while True: print('x' * 1000)")}, write, grace=0.5
        )
        self.assertEqual(stopped_by, signal.SIGPIPE)
        self.assertGroupsEnded(lines)
