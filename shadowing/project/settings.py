"""4. Shadowing: a local database layered over a read-only snapshot of production."""

from pathlib import Path

from reviewsite.settings import *

BASE_DIR = Path(__file__).resolve().parent.parent
PATTERN_NAME = "4. Shadowing"


DATABASES = {
    # Local and writable: your changes, and everything that is only yours
    # (sessions, the admin's log, your own account).
    "default": database("default", BASE_DIR / "local.sqlite3"),
    # A copy of production taken by `take_snapshot`, anonymized, read-only.
    "snapshot": read_only_database("snapshot", BASE_DIR / "snapshot.sqlite3"),
    # The demo's stand-in for the live site. The site never reads it.
    "production": database("production", BASE_DIR / "production.sqlite3"),
}
if not DATABASES["snapshot"]["ENGINE"].endswith("sqlite3"):
    # Not created by the test run: take_snapshot makes it (see conftest.py).
    DATABASES["snapshot"]["TEST"] = {"MIRROR": "production"}
for alias in ["default", "production"]:
    if DATABASES[alias]["ENGINE"].endswith("sqlite3"):
        # Test databases in files: take_snapshot copies production's.
        DATABASES[alias]["TEST"] = {"NAME": sqlite_test_file(DATABASES[alias]["NAME"])}
DATABASE_ROUTERS = ["project.router.ShadowRouter"]
# Orphan reviews are looked for through the overlay (manage.py find_orphans).
ORPHAN_SWEEP = "project.orphans.OverlaySweep"

# How each model's rows are found:
#   "augmented": the snapshot's rows, plus local additions; a local edit
#                overrides the snapshot row with its primary key, a local
#                delete hides it (a tombstone in the local database);
#   "replaced":  only the local rows (a table being redesigned, say).
# Models not listed are local only (sessions, admin log, content types).
SHADOW_MODELS = {
    "products.product": "augmented",
    "reviews.review": "augmented",
    "auth.user": "augmented",
}
# New local rows are numbered from here, far above any snapshot key.
LOCAL_ID_START = 1_000_000_000
ROOT_URLCONF = "project.urls"
