"""What every benchmark shares: a pattern project set up in scratch files,
timing that reports ratios, a peak-memory probe, and one result format.

A benchmark is a script, ``bench_<name>.py``, with ``run(quick, workdir)``
returning a list of Result. ``run.py`` starts each script in its own process
(each Django project is configured once per process) and gathers the results.
In quick mode a benchmark checks correctness on small data and its ratio is
reported but never judged: CI machines are too noisy for timing assertions.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    benchmark: str  # "1. Populate", ...
    case: str  # what was measured, for the table: "1,000,000 reviews, 4 shards"
    subject: str  # the project's code: "setup_demo"
    baseline: str  # what it is held against: "raw sqlite3 executemany"
    subject_s: float
    baseline_s: float
    goal: float | None  # the ratio the issue asks for; None: shown for context
    # "ratio": subject_s / baseline_s must be <= goal (slower by at most);
    # "speedup": baseline_s / subject_s must be >= goal (faster by at least).
    kind: str = "ratio"
    notes: dict = field(default_factory=dict)  # peak MB, rows, queries...

    @property
    def value(self) -> float:
        if self.kind == "speedup":
            return self.baseline_s / self.subject_s
        return self.subject_s / self.baseline_s

    @property
    def met(self) -> bool:
        if self.goal is None:  # shown for context (a size the goal is not for)
            return True
        if self.kind == "speedup":
            return self.value >= self.goal
        return self.value <= self.goal


def setup_django(pattern: str, sqlite_dir: Path, **environ: str) -> None:
    """Configure ``pattern``'s project on SQLite files in ``sqlite_dir``."""
    sqlite_dir.mkdir(parents=True, exist_ok=True)
    os.environ["SQLITE_DIR"] = str(sqlite_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    # Debug mode keeps every query's SQL in memory and adds the activity panel.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmarks-only")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost")
    os.environ.update(environ)
    for name in list(os.environ):  # benchmarks run on SQLite, whatever the shell says
        if name.startswith("DATABASE_URL_"):
            del os.environ[name]
    project = ROOT / pattern
    os.chdir(project)
    sys.path.insert(0, str(project))
    import django

    django.setup()


def manage(pattern: str, sqlite_dir: Path, *args: str) -> list[str]:
    """The command line of ``manage.py args`` of a pattern, for subprocess."""
    return [sys.executable, str(ROOT / pattern / "manage.py"), *args]


def subprocess_env(sqlite_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL_")}
    env.update(
        SQLITE_DIR=str(sqlite_dir),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="benchmarks-only",
        DJANGO_ALLOWED_HOSTS="testserver,localhost",
    )
    env.update(extra)
    return env


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(
    subject: Callable[[], object], baseline: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median seconds of each, measured in alternation (ABAB...), so that a
    noisy moment of the machine falls on both sides alike."""
    subject(), baseline()  # warm caches and connections
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(subject))
        b.append(timed(baseline))
    return statistics.median(a), statistics.median(b)


def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):  # the task ended meanwhile
                todo += [int(c) for c in (task / "children").read_text().split()]
    return pids


def pss_mb(pid: int) -> float:
    """Proportional set size of a process and its children, in MB: memory
    shared after fork() counted once, not once per process as RSS would."""
    total = 0
    for each in tree_pids(pid):
        try:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:  # exited meanwhile
            pass
    return total / 1024


class PeakMemory:
    """Samples the memory of a process tree every 50 ms while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, pss_mb(self.pid))

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main(run: Callable[[bool, Path], list[Result]]) -> None:
    """The command line of a benchmark script: ``--quick --workdir D --json F``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    results = run(args.quick, args.workdir.resolve())
    args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


def each_size(
    script: str, sizes: list[int], quick: bool, workdir: Path
) -> list[Result]:
    """Results of ``script --size N`` for each size, each in a process of its
    own: Django is configured once a process, for one size's files."""
    results = []
    workdir.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        out = workdir / f"{Path(script).stem}-{size}.json"
        command = [sys.executable, script, "--size", str(size)]
        command += ["--workdir", str(workdir), "--json", str(out)]
        subprocess.run(command + ["--quick"] * quick, check=True)
        results += [Result(**result) for result in json.loads(out.read_text())]
    return results


def sized_main(
    run: Callable[[bool, Path], list[Result]],
    measure: Callable[[bool, Path, int], list[Result]],
) -> None:
    """main() for a script that measures each size in its own process:
    ``run`` starts them (with each_size), ``--size N`` measures one."""
    if "--size" not in sys.argv:
        return main(run)
    at = sys.argv.index("--size")
    size = int(sys.argv[at + 1])
    del sys.argv[at : at + 2]
    main(lambda quick, workdir: measure(quick, workdir, size))


def check(condition: object, message: str) -> None:
    """A benchmark's correctness check: unlike ``assert``, kept under -O."""
    if not condition:
        raise AssertionError(message)


# A site's pages served by a child process (a Django project is configured
# once per process), asked by the parent one JSON line each way.


def serve(make: Callable[[], object]) -> None:
    """Answer the parent's commands with ``make()``'s methods, a JSON line
    each, until stdin closes. A failed check is answered, not raised."""
    pages = make()
    for line in sys.stdin:
        command, *args = json.loads(line)
        try:
            answer = getattr(pages, command)(*args)
        except AssertionError as error:
            answer = {"error": str(error)}
        print(json.dumps(answer), flush=True)


class PageServer:
    """A child process running ``serve``: ``argv`` with ``env``."""

    def __init__(self, argv: list[str], env: dict, label: str = "") -> None:
        self.label = label
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def ask(self, command: str, *args):
        self.process.stdin.write(json.dumps([command, *args]) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the page server stopped while asked {command}")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            prefix = f"{self.label}: " if self.label else ""
            raise AssertionError(prefix + answer["error"])
        return answer

    def close(self, timeout: float = 60) -> None:
        self.process.stdin.close()
        self.process.wait(timeout)
