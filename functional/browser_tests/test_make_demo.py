"""``make demo ADDR=...``: the address setup_demo tells you to open is the one
the server answers on."""

import re
import tempfile
from urllib.request import urlopen

from django.test import SimpleTestCase

from reviewsite.testing import DemoRun, free_port, needs_make_and_proc, on_sqlite_only


@on_sqlite_only
@needs_make_and_proc
class MakeDemoTests(SimpleTestCase):
    def test_the_url_printed_is_the_one_the_server_answers_on(self):
        port = free_port()
        scratch = self.enterContext(tempfile.TemporaryDirectory())
        demo = DemoRun("functional", f"127.0.0.1:{port}", scratch)
        self.addCleanup(demo.kill)
        demo.wait_for("Quit the server with")
        printed = re.findall(r"open (http://\S+/)", demo.output)
        self.assertEqual(printed, [f"http://127.0.0.1:{port}/"], demo.output)
        with urlopen(printed[0], timeout=30) as page:
            self.assertIn("1. Functional separation", page.read().decode())
