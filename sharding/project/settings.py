"""3. Sharding: reviews spread over shard databases; the rest in ``default``."""

import os
from pathlib import Path

from project.shard_databases import shard_databases
from reviewsite.settings import *

BASE_DIR = Path(__file__).resolve().parent.parent
PATTERN_NAME = "3. Sharding"

# The shard databases, found from the data (the shard map, the shard files,
# the DATABASE_URL_SHARD<n> set): a site started again after a rebalance
# finds them. Adding one is routine: SHARD_DATABASES=5 manage.py rebalance.
# Removing some, from 8 to 4: SHARD_DATABASES=4 manage.py rebalance; they stay
# reachable but given nothing (DRAINING_SHARDS) while their files are there.
SHARDS, DRAINING_SHARDS = shard_databases(os.environ.get("SQLITE_DIR") or BASE_DIR)
# Reviews hash onto this many logical shards; the shard map in ``default``
# sends each to one of the SHARDS. Never change it once there is data.
LOGICAL_SHARDS = 1024

DATABASES = {
    # Products, users, sessions, and the shard map.
    "default": database("default", BASE_DIR / "default.sqlite3"),
    **{
        alias: database(alias, BASE_DIR / f"{alias}.sqlite3")
        for alias in SHARDS + DRAINING_SHARDS
    },
}
for settings_dict in DATABASES.values():
    if settings_dict["ENGINE"].endswith("sqlite3"):
        settings_dict["TEST"] = {"NAME": sqlite_test_file(settings_dict["NAME"])}
# Every shard connection gives up in time: a hung shard costs a cross-shard
# page its rows, and a page of that shard alone a 503, never a stuck worker.
# PostgreSQL: connecting, and the statements of page reads (timeouts.py).
SHARD_STATEMENT_TIMEOUT_SECONDS = 5
for alias in SHARDS + DRAINING_SHARDS:
    shard = DATABASES[alias]
    # Kept between pages by request threads and the fan-out's threads alike.
    shard.update(CONN_MAX_AGE=600, CONN_HEALTH_CHECKS=True)
    options = shard.setdefault("OPTIONS", {})
    if shard["ENGINE"].endswith("sqlite3"):
        options["timeout"] = SHARD_STATEMENT_TIMEOUT_SECONDS  # for a lock
    else:
        options.setdefault("connect_timeout", 2)
DATABASE_ROUTERS = ["project.router.ShardRouter"]
# A write refused while its logical shard moves, or a shard down or late:
# 503, try again, on any page.
MIDDLEWARE = [*MIDDLEWARE, "project.middleware.ShardTroubleMiddleware"]
REVIEW_ID_ALLOCATOR = "project.ids.assign_ids"
# Orphan reviews are looked for in the rows each shard owns (find_orphans).
ORPHAN_SWEEP = "project.orphans.ShardSweep"
# Each process re-reads the shard map's version at most this often. After
# switching logical shards, rebalance waits the grace before deleting them
# from their old databases: a statement routed with the old map until then
# is refused there (and asked again); one that runs later finds nothing.
# So the grace outlasts any request (gunicorn's timeout: 30 s) and the map
# check. Tests in other processes shorten both.
SHARD_MAP_CHECK_SECONDS = float(os.environ.get("SHARD_MAP_CHECK_SECONDS", "1"))
SHARD_MAP_GRACE_SECONDS = float(os.environ.get("SHARD_MAP_GRACE_SECONDS", "35"))
# rebalance waits this long for a lock on a shard (PostgreSQL), then fails.
SHARD_MOVE_LOCK_TIMEOUT_SECONDS = 5.0
# A shard that has not answered by then is left out of a cross-shard page.
SHARD_TIMEOUT_SECONDS = 2.0
ROOT_URLCONF = "project.urls"
