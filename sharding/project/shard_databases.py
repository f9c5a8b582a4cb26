"""Which shard databases there are, found from the data for settings.py: a
site started again after `rebalance` finds its shards without being told.

- ``SHARD_DATABASES=N``, when set: shard0 to shard<N-1> (to add a shard, or
  remove some: ``SHARD_DATABASES=5 manage.py rebalance``);
- otherwise, on PostgreSQL, every shard whose ``DATABASE_URL_SHARD<n>`` is set;
- on SQLite, the shards the map in default.sqlite3 names (read without Django:
  settings come first); before there is a map, the shard files present; on a
  new site, four.

A shard database found but given nothing (its file is there, the map does not
name it; or beyond ``SHARD_DATABASES``) stays reachable as draining:
``rebalance`` moves every logical shard off it, and no page misses its rows.
"""

import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path

NEW_SITE = 4
URL = re.compile(r"DATABASE_URL_SHARD(\d+)$")
FILE = re.compile(r"shard(\d+)\.sqlite3$")


def shard_databases(sqlite_dir: Path) -> tuple[list[str], list[str]]:
    """The shards to spread reviews over, and those only to drain."""
    urls = numbers(URL, os.environ)
    files = numbers(FILE, (path.name for path in Path(sqlite_dir).glob("shard*")))
    found = urls or files  # a site on PostgreSQL: its URLs, not stray files
    if count := os.environ.get("SHARD_DATABASES"):
        spread = set(range(int(count)))
    elif not urls and "DATABASE_URL_DEFAULT" not in os.environ:
        spread = mapped(Path(sqlite_dir) / "default.sqlite3") or files
    else:
        spread = urls
    spread = spread or set(range(NEW_SITE))
    told = range(len(spread), int(os.environ.get("DRAIN_SHARD_DATABASES") or 0))
    return names(spread), names((found | set(told)) - spread)


def mapped(path: Path) -> set[int]:
    """The shards the map names, read only: no file or no map yet, none."""
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            aliases = db.execute("SELECT DISTINCT alias FROM project_shardmap")
            return numbers(re.compile(r"shard(\d+)$"), (a for (a,) in aliases))
    except sqlite3.Error:
        return set()


def numbers(pattern: re.Pattern, names) -> set[int]:
    return {int(match[1]) for name in names if (match := pattern.match(name))}


def names(numbers) -> list[str]:
    return [f"shard{n}" for n in sorted(numbers)]
