"""Run a few commands side by side in the foreground, as one: what ``manage.py
demo`` runs (the server, and replication's follower beside it).

Each line a child prints is printed prefixed with its name (``web | ...``).
A stop signal (Ctrl-C, SIGTERM, the terminal closed) stops every child; a
child that ends by itself stops the others, and says which. Nothing is left
running either way: a child left behind (the follower, re-parented to PID 1,
copying every 20 s for ever) was what `make demo` used to leave.
"""

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from queue import SimpleQueue

STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
GRACE_SECONDS = 5.0  # after a Ctrl-C, before a child that goes on is killed


class ChildEnded(Exception):
    """A child ended before it was asked to: the others have been stopped."""

    def __init__(self, name: str, returncode: int):
        self.name, self.returncode = name, returncode
        super().__init__(f"{name} ended by itself ({self.how})")

    @property
    def how(self) -> str:
        if self.returncode < 0:
            return f"killed by {signal.Signals(-self.returncode).name}"
        return f"exit code {self.returncode}"


def run_together(
    commands: dict[str, list[str]],
    write: Callable[[str], None],
    cwd: str | os.PathLike | None = None,
    grace: float = GRACE_SECONDS,
) -> signal.Signals:
    """Run every command (a name: its argv) until a stop signal comes, which
    is returned, or until one ends by itself (ChildEnded is raised). Either
    way every child is stopped and waited for first. ``write`` takes each
    line of output, prefixed.
    """
    # One queue for both kinds of event, so that the first one wins: a signal
    # number, or the name of a child that ended. SimpleQueue.put may be called
    # from a signal handler (it is reentrant); Queue.put could deadlock there.
    events: SimpleQueue[signal.Signals | str] = SimpleQueue()
    previous = {
        signum: signal.signal(signum, lambda signum, frame: events.put(signum))
        for signum in STOP_SIGNALS
    }
    width = max(map(len, commands))
    lock = threading.Lock()  # one line at a time, never two mixed

    def prefixed(name: str, line: str) -> None:
        with lock:
            write(f"{name:<{width}} | {line}".rstrip())

    children: dict[str, subprocess.Popen] = {}
    relays = []
    try:
        for name, command in commands.items():
            children[name] = child = start(command, cwd)
            prefixed(name, f"started (pid {child.pid})")
            relays.append(
                relay(
                    child,
                    lambda line, name=name: prefixed(name, line),
                    unwritable=lambda: events.put(signal.SIGPIPE),
                )
            )
            notify_end(child, lambda name=name: events.put(name))
        first = events.get()
    finally:
        stop(children.values(), grace)
        for relayed in relays:  # the children's last lines ("Stopped.")
            relayed.join(timeout=1)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if isinstance(first, str):
        raise ChildEnded(first, children[first].returncode)
    return signal.Signals(first)


def start(command: list[str], cwd: str | os.PathLike | None) -> subprocess.Popen:
    """A child in a process group of its own, output unbuffered into one pipe.

    Its own group: a terminal's Ctrl-C reaches only the supervisor, which
    stops each child and waits for it, in one place; and a signal sent to
    the group reaches what the child started itself (runserver's autoreloader
    serves from a child process of its own).
    """
    return subprocess.Popen(
        command,
        cwd=cwd,
        # Each line when it is printed; SUPERVISED: end with the supervisor.
        env={**os.environ, "PYTHONUNBUFFERED": "1", SUPERVISED: "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        process_group=0,
    )


SUPERVISED = "MULTIDB_DEMO_SUPERVISED"
PR_SET_PDEATHSIG = 1


def end_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent ends. For the demo's
    children and theirs (runserver serves from a child of its own), called
    when Django starts in them (web/apps.py): a supervisor killed outright
    (kill -9) stops nothing, and the server would go on serving."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            return
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() == 1:  # the parent ended before: nobody would tell us
        os.kill(os.getpid(), signal.SIGTERM)


def relay(
    child: subprocess.Popen,
    write: Callable[[str], None],
    unwritable: Callable[[], None] = lambda: None,
) -> threading.Thread:
    """A thread that hands each line of the child's output to ``write``. If
    writing fails (the terminal, or ``| head``, has gone), ``unwritable`` is
    called once and the output is read on and dropped: a child writing into
    a full pipe would block, unseen."""

    def run() -> None:
        failed = False
        for line in child.stdout:
            if failed:
                continue
            try:
                write(line)
            except (OSError, ValueError):  # a broken pipe, a closed file
                failed = True
                unwritable()

    return in_background(run)


def notify_end(child: subprocess.Popen, ended: Callable[[], None]) -> None:
    """Call ``ended`` from a thread when the child has ended."""

    def run() -> None:
        child.wait()
        ended()

    in_background(run)


def in_background(run: Callable[[], None]) -> threading.Thread:
    """A daemon thread running ``run``, which never takes a stop signal.

    Python runs a signal's handler in the main thread, but only once that
    thread runs Python again: a Ctrl-C taken by this thread could wait while
    the main thread waits for an event. Blocked here, it goes to the main
    thread and wakes it. (A thread inherits the mask of the one starting it.)
    """
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return thread


def stop(children: Iterable[subprocess.Popen], grace: float) -> None:
    """Stop each child's process group: SIGINT first, as Ctrl-C in a terminal
    would (replicate ends its round and says "Stopped.", runserver stops its
    autoreloader's child), SIGKILL for what still runs after ``grace``
    seconds. Every child is waited for."""
    children = list(children)
    for child in children:
        # Also when the child itself has ended: what it started may not have.
        signal_group(child, signal.SIGINT)
        signal_group(child, signal.SIGCONT)  # one paused (kill -STOP) takes it
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(child, signal.SIGKILL)
            child.wait()
    for child in children:
        # What a child started and left in its group when it ended.
        signal_group(child, signal.SIGKILL)


def signal_group(child: subprocess.Popen, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # the whole group has ended
        os.killpg(child.pid, signum)
