"""Test helpers every pattern project's tests use (imported by the tests)."""

import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from django.db import connections, router

from reviewsite.products.models import Product
from reviewsite.reviews.models import Review


def make_product(name: str = "Solar Kettle", **fields) -> Product:
    fields.setdefault("price", Decimal("19.99"))
    return Product.objects.create(name=name, **fields)


def make_review(product: Product, text: str = "Works well.", **fields) -> Review:
    return Review.objects.create(product_id=product.pk, text=text, **fields)


def table_exists(alias: str, model) -> bool:
    """Is the model's table in this database? Asks the database itself."""
    return model._meta.db_table in connections[alias].introspection.table_names()


def raw_count(alias: str, model, **where) -> int:
    """Rows in the model's table on this alias, by SQL: no router involved."""
    sql = f'SELECT COUNT(*) FROM "{model._meta.db_table}"'
    if where:
        sql += " WHERE " + " AND ".join(f'"{column}" = %s' for column in where)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, list(where.values()))
        return cursor.fetchone()[0]


def review_databases() -> list[str]:
    """The aliases where reviews are stored: where the router lets them migrate.

    (A replica holds copies, not stored reviews: replication migrates only
    the primary.)
    """
    return [alias for alias in connections if router.allow_migrate_model(alias, Review)]


def review_count(**where) -> int:
    """Reviews stored in every database, by SQL: no router involved."""
    return sum(raw_count(alias, Review, **where) for alias in review_databases())


def find_review(**where) -> Review:
    """The one stored review matching ``where``, wherever it is stored."""
    found = [
        review
        for alias in review_databases()
        for review in Review.objects.using(alias).filter(**where)
    ]
    assert len(found) == 1, f"{len(found)} reviews match {where}"
    return found[0]


# Tests that run the project's commands in other processes on scratch SQLite
# files (SQLITE_DIR): with DATABASE_URL_* set, those would use the real
# databases, so they run on SQLite only.
on_sqlite_only = unittest.skipUnless(
    all(connections[alias].vendor == "sqlite" for alias in connections),
    "runs on scratch SQLite files in other processes",
)


class _FormValues(HTMLParser):
    """The values a browser would send for the form with the given id, untouched."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.select = self.textarea = None
        self.values: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and name and attrs.get("type") not in {"submit", "file"}:
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.values.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "select":
            self.select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in attrs:
            self.values[self.select].append(attrs.get("value") or "")
        elif tag == "textarea":
            self.textarea = name
            self.values[name] = [""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            # A browser drops the newline that follows <textarea>.
            text = self.values[self.textarea][0]
            self.values[self.textarea][0] = text.removeprefix("\n")
            self.textarea = None

    def handle_data(self, data):
        if self.textarea and self.inside:
            self.values[self.textarea][0] += data


def form_values(html: str, form_id: str) -> dict[str, list[str]]:
    """What submitting the form ``form_id`` of this page as it is would send."""
    parser = _FormValues(form_id)
    parser.feed(html)
    return parser.values


# `make demo` as a person runs it: from a terminal, stopped with Ctrl-C.

TOP = Path(__file__).resolve().parent.parent  # the repository, with the Makefile

needs_make_and_proc = unittest.skipUnless(
    shutil.which("make") and Path("/proc/self/stat").exists(),
    "runs make, and finds what it left in /proc (Linux)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(session: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process of this session. A process
    whose parent died is re-parented to PID 1 but keeps its session (and its
    process group), so this finds orphans too."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        # After the command name, in parentheses: state ppid pgrp session ...
        state, _ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
        if int(sid) == session and state != "Z":  # a zombie runs nothing
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode()))
    return found


class DemoRun:
    """``make demo`` with this interpreter's environment (nothing to install),
    on scratch SQLite files (``sqlite_dir``), in a session of its own, as a
    terminal starts it: Ctrl-C there is a SIGINT to its process group. Its
    output is read line by line as it comes."""

    def __init__(self, pattern: str, addr: str, sqlite_dir: str):
        venv = os.path.relpath(sys.prefix, TOP)
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", f"{venv}/bin/.installed", "demo",
             f"PATTERN={pattern}", f"VENV={venv}", f"ADDR={addr}"],
            cwd=TOP,
            env={**os.environ, "SQLITE_DIR": sqlite_dir, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._coming: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._coming.put(line)
        self._coming.put(None)  # the end of the output

    @property
    def output(self) -> str:
        """Every line read so far."""
        return "".join(self.lines)

    def wait_for(self, *patterns: str, timeout: float = 60) -> None:
        """Read until, for each regular expression, a line that matches it
        has come (in any order)."""
        deadline = time.monotonic() + timeout
        waiting = list(patterns)
        while waiting and (line := self._next_line(deadline)) is not None:
            self.lines.append(line)
            waiting = [pattern for pattern in waiting if not re.search(pattern, line)]
        if waiting:
            ended = "ended" if self.process.poll() is not None else f"ran {timeout} s"
            raise AssertionError(
                f"make demo {ended} with no line matching {waiting}:\n{self.output}"
            )

    def interrupt(self) -> None:
        """Ctrl-C in its terminal: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def processes(self) -> list[tuple[int, str]]:
        """(pid, command line) of every process it started and still runs."""
        return session_processes(self.process.pid)

    def wait_until_ended(self, timeout: float = 15) -> list[tuple[int, str]]:
        """Wait for make to end, and every process it started with it; return
        what still runs after ``timeout`` seconds (nothing, unless at fault).
        The rest of the output is read."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None and not self.processes():
                break
            time.sleep(0.05)  # real processes ending: no clock to travel
        while (line := self._next_line(deadline)) is not None:
            self.lines.append(line)
        return self.processes()

    def _next_line(self, deadline: float) -> str | None:
        """The next line, or None at the end of the output or of the time."""
        try:
            line = self._coming.get(timeout=max(0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            self._coming.put(None)  # the end, for the next caller too
        return line

    def kill(self) -> None:
        """Whatever it left, killed: a failed test leaves nothing behind."""
        for _ in range(10):  # one that forked meanwhile is found next time
            if not (left := self.processes()):
                break
            for pid, _command in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)  # at the end of the output, all gone
        self.process.stdout.close()
