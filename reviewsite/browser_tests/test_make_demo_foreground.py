"""``make demo``, in every project: everything runs in the foreground with
prefixed lines, and stops with Ctrl-C, leaving no process behind. (A child
that ends by itself: replication's test_make_demo_follower.py, with the
follower, and test_supervisor.py.)"""

import os
import signal
import tempfile
from urllib.request import urlopen

from django.conf import settings
from django.test import SimpleTestCase

from reviewsite.testing import DemoRun, free_port, needs_make_and_proc, on_sqlite_only


@on_sqlite_only
@needs_make_and_proc
class MakeDemoForegroundTests(SimpleTestCase):
    def test_ctrl_c_stops_everything_and_leaves_no_process(self):
        addr = f"127.0.0.1:{free_port()}"
        scratch = self.enterContext(tempfile.TemporaryDirectory())
        demo = DemoRun(settings.BASE_DIR.name, addr, scratch)  # this project's
        self.addCleanup(demo.kill)
        demo.wait_for(r"^web +\| .*Quit the server with")
        with urlopen(f"http://{addr}/", timeout=30) as page:
            self.assertEqual(page.status, 200)
        demo.interrupt()
        self.assertEqual(demo.wait_until_ended(), [], demo.output)

    def test_a_demo_killed_outright_leaves_no_process(self):
        """kill -9 gives the demo no time to stop anything: its children end
        with it all the same (BREAK-IT: the server went on serving)."""
        addr = f"127.0.0.1:{free_port()}"
        scratch = self.enterContext(tempfile.TemporaryDirectory())
        demo = DemoRun(settings.BASE_DIR.name, addr, scratch)
        self.addCleanup(demo.kill)
        demo.wait_for(r"^web +\| .*Quit the server with")
        (supervisor,) = [
            pid for pid, line in demo.processes() if "manage.py demo" in line
        ]
        os.kill(supervisor, signal.SIGKILL)
        self.assertEqual(demo.wait_until_ended(), [], demo.output)
