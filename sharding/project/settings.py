"""3. Sharding: reviews spread over shard databases; the rest in ``default``."""

import os
from pathlib import Path

from reviewsite.settings import *

BASE_DIR = Path(__file__).resolve().parent.parent
PATTERN_NAME = "3. Sharding"

# Adding a database is routine: raise SHARD_DATABASES (or add an alias
# here), then run `manage.py rebalance`.
SHARDS = [f"shard{n}" for n in range(int(os.environ.get("SHARD_DATABASES", "4")))]
# Reviews hash onto this many logical shards; the shard map in ``default``
# sends each to one of the SHARDS. Never change it once there is data.
LOGICAL_SHARDS = 1024

DATABASES = {
    # Products, users, sessions, and the shard map.
    "default": database("default", BASE_DIR / "default.sqlite3"),
    **{alias: database(alias, BASE_DIR / f"{alias}.sqlite3") for alias in SHARDS},
}
for alias, settings_dict in DATABASES.items():
    if settings_dict["ENGINE"].endswith("sqlite3"):
        # Test databases in files, not memory: the tests write from several
        # threads and processes at once, as a site does.
        settings_dict["TEST"] = {"NAME": BASE_DIR / f"{alias}.test.sqlite3"}
DATABASE_ROUTERS = ["project.router.ShardRouter"]
REVIEW_ID_ALLOCATOR = "project.ids.assign_ids"
# A shard that has not answered by then is left out of a cross-shard page.
SHARD_TIMEOUT_SECONDS = 2.0
ROOT_URLCONF = "project.urls"
