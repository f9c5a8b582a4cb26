"""Which shard databases there are, found from the data for settings.py: a
site started again after `rebalance` finds its shards without being told.

- ``SHARD_DATABASES=N``, when set: shard0 to shard<N-1> (to add a shard, or
  remove some: ``SHARD_DATABASES=5 manage.py rebalance``);
- otherwise, on PostgreSQL, every shard whose ``DATABASE_URL_SHARD<n>`` is set;
- on SQLite, the shards the map in default.sqlite3 names (read without Django:
  settings come first); before there is a map, or with the map on PostgreSQL
  (settings do not wait for a server), the shard files present; on a new
  site, four.

A shard database found but given nothing (its file is there, the map does not
name it; or beyond ``SHARD_DATABASES``) stays reachable as draining:
``rebalance`` moves every logical shard off it, and no page misses its rows.
"""

import os
import re
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

NEW_SITE = 4
NUMBER = r"(0|[1-9][0-9]*)"  # as the aliases are written: shard4, not shard04
URL = re.compile(rf"DATABASE_URL_SHARD{NUMBER}$")
FILE = re.compile(rf"shard{NUMBER}\.sqlite3$")
ALIAS = re.compile(rf"shard{NUMBER}$")


def shard_databases(sqlite_dir: Path) -> tuple[list[str], list[str]]:
    """The shards to spread reviews over, and those only to drain."""
    urls = numbers(URL, os.environ)
    files = numbers(FILE, (path.name for path in Path(sqlite_dir).glob("shard*")))
    found = urls or files  # a site on PostgreSQL: its URLs, not stray files
    if count := os.environ.get("SHARD_DATABASES"):
        spread = set(range(whole_number("SHARD_DATABASES", count)))
    elif not urls and "DATABASE_URL_DEFAULT" not in os.environ:
        spread = mapped(Path(sqlite_dir) / "default.sqlite3") or files
    else:  # the map is on PostgreSQL: settings cannot wait for a server
        spread = found
    spread = spread or set(range(NEW_SITE))
    drain = os.environ.get("DRAIN_SHARD_DATABASES") or "0"
    told = range(len(spread), whole_number("DRAIN_SHARD_DATABASES", drain, least=0))
    return names(spread), names((found | set(told)) - spread)


def whole_number(name: str, value: str, least: int = 1) -> int:
    if not (value.isdigit() and int(value) >= least):
        raise ImproperlyConfigured(
            f"{name} must be a whole number of at least {least}."
        )
    return int(value)


def mapped(path: Path) -> set[int]:
    """The shards the map names, read only: no file or no map yet, none."""
    if not path.exists():
        return set()
    uri = path.resolve().as_uri() + "?mode=ro"
    try:  # a writer holding the file: wait a moment, not a request's timeout
        with closing(sqlite3.connect(uri, uri=True, timeout=1)) as db:
            aliases = db.execute("SELECT DISTINCT alias FROM project_shardmap")
            return numbers(ALIAS, (alias for (alias,) in aliases))
    except sqlite3.Error as error:
        if "no such table" not in str(error):  # no map yet: nothing to say
            warnings.warn(
                f"Could not read the shard map in {path} ({error}): the shards are "
                "taken from the shard files present.",
                RuntimeWarning,
                stacklevel=2,
            )
        return set()


def numbers(pattern: re.Pattern, names) -> set[int]:
    return {int(match[1]) for name in names if (match := pattern.match(name))}


def names(numbers) -> list[str]:
    return [f"shard{n}" for n in sorted(numbers)]
