"""Run the benchmarks side by side, print a table, and draw a chart.

    python benchmarks/run.py            # full: a million reviews, ~10 minutes
    python benchmarks/run.py --quick    # small data: checks results, not speed
    python benchmarks/run.py --only populate pages

Each ``bench_<name>.py`` runs in its own process, in a scratch directory.
Full mode writes benchmarks/results.json and benchmarks/results.png (with
``--only``, the other benchmarks' rows are kept from the last results.json) and
exits 1 if a goal is missed; quick mode exits 1 only if a benchmark fails
(a wrong result), never for a slow one.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Result

HERE = Path(__file__).resolve().parent
NAMES = [
    "populate",
    "pages",
    "router",
    "fanout",
    "replicate",
    "shadowing",
    "writes",
    "servers",
    "admin",
]


def run_one(name: str, quick: bool, scratch: Path) -> list[dict]:
    out = scratch / f"{name}.json"
    command = [
        sys.executable,
        str(HERE / f"bench_{name}.py"),
        "--workdir",
        str(scratch / name),
        "--json",
        str(out),
    ]
    start = time.perf_counter()
    subprocess.run(command + ["--quick"] * quick, check=True, cwd=HERE)
    print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return json.loads(out.read_text())


def value(result: dict) -> float:
    return Result(**result).value


def met(result: dict) -> bool:
    return Result(**result).met


def goal_text(result: dict) -> str:
    if result["goal"] is None:
        return "(none)"
    if result["kind"] == "speedup":
        return f">= {result['goal']:g}x faster"
    return f"<= {result['goal']:g}x"


def table(results: list[dict], quick: bool) -> str:
    """A reStructuredText table: printed, and pasted into benchmarks/README."""
    header = [
        "Benchmark",
        "Case",
        "Subject",
        "Baseline",
        "Subject s",
        "Baseline s",
        "Ratio",
        "Goal",
        "Met",
    ]
    rows = [
        [
            r["benchmark"],
            r["case"],
            r["subject"],
            r["baseline"],
            f"{r['subject_s']:.4g}",
            f"{r['baseline_s']:.4g}",
            f"{value(r):.2f}" + ("x faster" if r["kind"] == "speedup" else "x"),
            goal_text(r),
            "(quick)" if quick else ("yes" if met(r) else "NO"),
        ]
        for r in results
    ]
    widths = [
        max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)
    ]
    rule = "  ".join("=" * w for w in widths)
    lines = [
        rule,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        rule,
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    ]
    return "\n".join([*lines, rule])


def chart(results: list[dict], path: Path) -> None:
    """One bar per measurement: how far it is from its goal (below 1 is met)."""
    import matplotlib

    matplotlib.use("Agg")  # no screen
    import matplotlib.pyplot as plt

    labels = [f"{r['benchmark']}\n{r['case']}" for r in results]
    # Every goal as "at most": a speedup of at least g is a time ratio of at most 1/g.
    ratios = [r["subject_s"] / r["baseline_s"] for r in results]
    goals = [
        None
        if r["goal"] is None
        else 1 / r["goal"]
        if r["kind"] == "speedup"
        else r["goal"]
        for r in results
    ]
    figure, axes = plt.subplots(figsize=(10, 0.55 * len(results) + 1.5))
    y = range(len(results))
    colors = [
        "tab:grey" if r["goal"] is None else "tab:green" if met(r) else "tab:red"
        for r in results
    ]
    axes.barh(y, ratios, color=colors)
    axes.scatter(
        [g for g in goals if g is not None],
        [i for i, g in zip(y, goals, strict=True) if g is not None],
        marker="|",
        s=400,
        color="black",
        label="goal (at most)",
        zorder=3,
    )
    axes.axvline(1, color="grey", linewidth=0.8)
    axes.set_yticks(list(y), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("time of the subject / time of its baseline (lower is better)")
    axes.set_title(f"Multi-database patterns: benchmarks ({os.cpu_count()} cores)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import sqlite3

    import django

    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def kept(path: Path, results: list[dict]) -> list[dict]:
    """The rows of an earlier results.json for benchmarks not run this time
    (``--only``): the table and the chart keep every benchmark."""
    if not path.exists():
        return []
    ran = {result["benchmark"] for result in results}
    earlier = json.loads(path.read_text())["results"]
    return [result for result in earlier if result["benchmark"] not in ran]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small data, no goals judged"
    )
    parser.add_argument("--only", nargs="+", choices=NAMES, default=NAMES)
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where results.json and results.png go"
    )
    args = parser.parse_args()
    print(
        f"Benchmarks ({'quick' if args.quick else 'full'}) on {machine()}", flush=True
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="multidb-bench-") as scratch:
        for name in args.only:
            results += run_one(name, args.quick, Path(scratch))
    print(table(results, args.quick))
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        every = kept(args.out / "results.json", results) + results
        (args.out / "results.json").write_text(
            json.dumps({"machine": machine(), "results": every}, indent=2) + "\n"
        )
        chart(every, args.out / "results.png")
        print(f"Wrote {args.out / 'results.json'} and {args.out / 'results.png'}")
        missed = [r for r in results if not met(r)]
        if missed:
            print(f"{len(missed)} goal(s) missed.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
