"""The sharding project's demo data at a given size, shared by the sharding
benchmarks (pages, router cost, fan-out).

Each size lives in ``workdir/sharding-<reviews>`` and is made by the project's
own ``manage.py setup_demo --reviews N`` in a subprocess. setup_demo does
nothing when the data is there already, so a dataset is built once per
workdir and reused by every script and every run.
"""

import subprocess
import time
from pathlib import Path

from common import manage, subprocess_env

ATTEMPTS = 3


def dataset(workdir: Path, reviews: int) -> Path:
    """The SQLite folder holding the sharding demo with ``reviews`` reviews."""
    folder = workdir / f"sharding-{reviews}"
    folder.mkdir(parents=True, exist_ok=True)
    command = manage("sharding", folder, "setup_demo", "--reviews", str(reviews))
    for attempt in range(1, ATTEMPTS + 1):
        done = subprocess.run(
            command, env=subprocess_env(folder), capture_output=True, text=True
        )
        if done.returncode == 0:
            return folder
        if attempt == ATTEMPTS:
            raise RuntimeError(
                f"setup_demo --reviews {reviews} failed in {folder}:\n"
                f"{done.stdout[-2000:]}{done.stderr[-4000:]}"
            )
        # A half-made dataset would be taken for a finished one next time.
        for leftover in folder.glob("*.sqlite3*"):
            leftover.unlink()
        time.sleep(2)
    return folder
