"""Stopping a command at each of its commit boundaries in turn, as SQLite's
crash tests cut the power at every write.

A commit boundary is a transaction's COMMIT, or a write statement run outside
any transaction (which commits by itself), on any database. ``stop_at(n,
how)`` lets the first n - 1 boundaries pass and then, at the n-th:

- ``"refused"``: the database refuses it (DatabaseError): nothing of that
  transaction is written, and the command's own error handling runs;
- ``"killed"``: it is written, then the process dies at once (a BaseException
  no handler catches, or a real SIGKILL with ``kill=True``).
"""

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

HOW = ("refused", "killed")
WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE")


def step() -> str:
    """The function of the project's code that is committing (not the
    helpers that open its transactions)."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if f"{os.sep}project{os.sep}" in code.co_filename and code.co_name not in (
            "on_shard",
            "__exit__",
        ):
            return code.co_name
        frame = frame.f_back
    return "?"


class Killed(BaseException):
    """The process died here: no ``except Exception`` sees it."""


class Boundaries:
    def __init__(self, stop=None, how="killed", kill=False, at: str | None = None):
        self.stop, self.how, self.kill, self.at = stop, how, kill, at
        self.passed: list[str] = []
        self.stopped = ""  # the boundary it stopped at

    def reached(self, where: str, commit):
        """Called at a boundary: commit it, or stop as told. A refused one
        is refused once: the database is back for what follows."""
        if self.at is not None and self.at in where and self.stop is None:
            self.stop = len(self.passed) + 1  # the first boundary there
        at_stop = len(self.passed) + 1 == self.stop and not self.stopped
        if at_stop and self.how == "refused":
            self.stopped = where
            raise DatabaseError(f"injected: {where} refused")
        result = commit()
        self.passed.append(where)
        if len(self.passed) == self.stop and self.how == "killed":
            self.stopped = where
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise Killed(f"killed after {where}")
        return result


@contextmanager
def boundaries(stop=None, how="killed", kill=False, at=None) -> Iterator:
    """Count (and stop at) the commit boundaries of what runs inside: the
    ``stop``-th, or the first whose description contains ``at``."""
    seen = Boundaries(stop, how, kill, at)
    real_commit = BaseDatabaseWrapper.commit

    def commit(connection):
        where = f"COMMIT on {connection.alias} in {step()}"
        return seen.reached(where, lambda: real_commit(connection))

    def statement(execute, sql, params, many, context):
        connection = context["connection"]
        if connection.get_autocommit() and sql.lstrip().upper().startswith(WRITES):
            where = f"{sql.split()[0]} on {connection.alias} in {step()}"
            return seen.reached(where, lambda: execute(sql, params, many, context))
        return execute(sql, params, many, context)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(BaseDatabaseWrapper, "commit", commit))
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(statement))
        yield seen


def sigkill_rebalance_at(at: str) -> None:
    """In a process of its own: rebalance, SIGKILLed right after the first
    commit boundary whose description contains ``at``."""
    from django.core.management import call_command

    with boundaries(kill=True, at=at):
        call_command("rebalance")
