"""``make demo PATTERN=replication`` on SQLite: the follower (``replicate
--follow``) runs in the foreground beside the server, its lines prefixed and
saying what it copied, and stops with the server."""

import os
import signal
import tempfile
from urllib.request import urlopen

from django.test import SimpleTestCase

from reviewsite.testing import DemoRun, free_port, needs_make_and_proc, on_sqlite_only


@on_sqlite_only
@needs_make_and_proc
class MakeDemoFollowerTests(SimpleTestCase):
    def start_demo(self) -> DemoRun:
        """``make demo`` once the server answers and the follower has copied."""
        addr = f"127.0.0.1:{free_port()}"
        scratch = self.enterContext(tempfile.TemporaryDirectory())
        demo = DemoRun("replication", addr, scratch)
        self.addCleanup(demo.kill)
        demo.wait_for(
            r"^replicate +\| \d\d:\d\d:\d\d copied primary to replica1, replica2",
            r"^web +\| .*Quit the server with",
        )
        with urlopen(f"http://{addr}/", timeout=30) as page:
            self.assertEqual(page.status, 200)
        return demo

    def test_ctrl_c_stops_the_follower_with_the_server(self):
        demo = self.start_demo()
        demo.interrupt()
        self.assertEqual(demo.wait_until_ended(), [], demo.output)
        self.assertRegex(demo.output, r"(?m)^replicate +\| Stopped\.$")

    def test_a_follower_that_dies_stops_the_server_and_the_demo_fails(self):
        demo = self.start_demo()
        (follower,) = [pid for pid, cmd in demo.processes() if "--follow" in cmd]
        os.kill(follower, signal.SIGKILL)
        self.assertEqual(demo.wait_until_ended(), [], demo.output)
        self.assertNotEqual(demo.process.returncode, 0, demo.output)
        self.assertRegex(
            demo.output,
            r"CommandError: replicate \(replicate --follow .*\) ended by itself "
            r"\(killed by SIGKILL\)",
        )
