"""``make demo ADDR=...``: the address setup_demo tells you to open is the one
the server answers on."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.request import urlopen

from django.test import SimpleTestCase

from reviewsite.testing import on_sqlite_only

TOP = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@on_sqlite_only
class MakeDemoTests(SimpleTestCase):
    def setUp(self):
        if not shutil.which("make"):
            self.skipTest("needs make")

    def start_demo(self, addr: str) -> subprocess.Popen:
        """``make demo`` with this interpreter's environment (nothing to
        install), on scratch SQLite files (SQLITE_DIR), in a process group of
        its own, ended when the test ends."""
        scratch = self.enterContext(tempfile.TemporaryDirectory())
        venv = os.path.relpath(sys.prefix, TOP)
        demo = subprocess.Popen(
            ["make", "--no-print-directory", "-o", f"{venv}/bin/.installed", "demo",
             "PATTERN=functional", f"VENV={venv}", f"ADDR={addr}"],
            cwd=TOP,
            env={**os.environ, "SQLITE_DIR": scratch, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )  # fmt: skip

        def stop():
            os.killpg(demo.pid, signal.SIGTERM)
            demo.communicate(timeout=30)

        self.addCleanup(stop)
        # A demo that hangs is stopped: the reads below then end.
        watchdog = threading.Timer(120, os.killpg, [demo.pid, signal.SIGKILL])
        watchdog.start()
        self.addCleanup(watchdog.cancel)
        return demo

    def test_the_url_printed_is_the_one_the_server_answers_on(self):
        port = free_port()
        demo = self.start_demo(f"127.0.0.1:{port}")
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if "Quit the server with" in line:
                break
        printed = re.findall(r"open (http://\S+/)", "".join(lines))
        self.assertEqual(printed, [f"http://127.0.0.1:{port}/"], "".join(lines))
        with urlopen(printed[0], timeout=30) as page:
            self.assertIn("1. Functional separation", page.read().decode())
