"""Shard statements that read a page give up in time; nothing else does.

A page read is a GET or HEAD request, or a fan-out query asked by one. On
PostgreSQL its connection gets ``statement_timeout`` (settings.
SHARD_STATEMENT_TIMEOUT_SECONDS) before it runs; anything else (a form's
write, the admin's delete of a product and its reviews, a move, a bulk load,
find_orphans, migrate) runs as long as it needs. The SET is sent only when a
connection goes from one kind of work to the other. (SQLite's timeout, a
wait for a lock, is set for every shard connection in settings.py.)

A server that froze (stopped, its machine paused) cancels nothing, and its
kernel keeps the connection open: a page read still waiting a second after
its timeout has its connection cut from this side (``Deadlines``).
"""

import heapq
import itertools
import os
import socket
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db.backends.signals import connection_created

reading_a_page: ContextVar[bool] = ContextVar("reading_a_page", default=False)


def page_timeout(execute, sql, params, many, context):
    connection = context["connection"]
    seconds = settings.SHARD_STATEMENT_TIMEOUT_SECONDS if reading_a_page.get() else 0
    now = (connection.connection, int(seconds * 1000))  # the session, the value
    with deadlines.watch(connection.connection, seconds):
        if getattr(connection, "page_timeout", None) != now and (
            connection.get_autocommit()
        ):
            raw = context["cursor"].cursor  # the driver's: no wrapper runs again
            with connection.wrap_database_errors:  # as Django's own: 503, not 500
                raw.execute(f"SET statement_timeout = {now[1]}")
            connection.page_timeout = now
        return execute(sql, params, many, context)


def install(sender, connection, **kwargs) -> None:
    """connection_created: on every PostgreSQL shard connection, once."""
    shards = [*settings.SHARDS, *settings.DRAINING_SHARDS]
    if connection.vendor != "postgresql" or connection.alias not in shards:
        return
    wrappers = connection.execute_wrappers
    wrappers[:] = [page_timeout, *(w for w in wrappers if w is not page_timeout)]
    if "is_usable" not in vars(connection):  # the health check's SELECT 1 too
        check = connection.is_usable

        def is_usable() -> bool:
            # Also at a request's start and end, outside its page read: a
            # SELECT 1 never needs longer.
            seconds = settings.SHARD_STATEMENT_TIMEOUT_SECONDS
            with deadlines.watch(connection.connection, seconds):
                return check()

        connection.is_usable = is_usable


connection_created.connect(install)


class Deadlines:
    """One thread that shuts down the socket of a driver connection still
    waiting a second past its page's statement_timeout; the waiting thread
    then gets an error (OperationalError), and Django drops the connection."""

    CUT_AFTER_SECONDS = 1.0  # by then a server that answers has cancelled

    def __init__(self) -> None:
        self.watched: dict[int, object] = {}  # number: driver connection
        self.due: list[tuple[float, int]] = []  # a heap of (deadline, number)
        self.numbers = itertools.count()
        self.wakeup = threading.Condition()
        self.thread = None

    @contextmanager
    def watch(self, driver_connection, seconds: float):
        if not seconds:  # not a page read: as long as it needs
            yield
            return
        deadline = time.monotonic() + seconds + self.CUT_AFTER_SECONDS
        with self.wakeup:
            number = next(self.numbers)
            self.watched[number] = driver_connection
            heapq.heappush(self.due, (deadline, number))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True)
                self.thread.start()
            if self.due[0][1] == number:  # the first due: the watch must know
                self.wakeup.notify()  # (waking it for every read costs a thread switch)
        try:
            yield
        finally:
            with self.wakeup:
                self.watched.pop(number, None)

    def _run(self) -> None:
        with self.wakeup:
            while True:
                while self.due and self.due[0][1] not in self.watched:
                    heapq.heappop(self.due)  # ended in time
                if not self.due:
                    self.wakeup.wait()
                elif (wait := self.due[0][0] - time.monotonic()) > 0:
                    self.wakeup.wait(wait)
                else:
                    _cut(self.watched.pop(heapq.heappop(self.due)[1]))


def _cut(driver_connection) -> None:
    try:  # a copy of the descriptor: closing it leaves the driver's alone
        with socket.socket(fileno=os.dup(driver_connection.fileno())) as copy:
            copy.shutdown(socket.SHUT_RDWR)
    except Exception:  # closed or broken meanwhile (psycopg's own errors too):
        pass  # nothing to cut, and the watch goes on for the others


deadlines = Deadlines()
