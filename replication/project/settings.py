"""2. Replication: writes to the primary (``default``), reads from replicas."""

from pathlib import Path

from reviewsite.settings import *

BASE_DIR = Path(__file__).resolve().parent.parent
PATTERN_NAME = "2. Replication"


DATABASES = {
    # The primary. It is Django's ``default``, so that every tool without a
    # --database option (createsuperuser, dbshell, the test runner) uses it.
    "default": database("default", BASE_DIR / "primary.sqlite3"),
    "replica1": read_only_database("replica1", BASE_DIR / "replica1.sqlite3"),
    "replica2": read_only_database("replica2", BASE_DIR / "replica2.sqlite3"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, even in tests: `replicate` copies it.
    DATABASES["default"]["TEST"] = {
        "NAME": sqlite_test_file(DATABASES["default"]["NAME"])
    }
else:
    for alias in ["replica1", "replica2"]:
        # Real standbys replicate the whole server: the test database created
        # on the primary reaches them by replication, as everything does.
        DATABASES[alias]["TEST"] = {"MIRROR": "default"}
if len({DATABASES[alias]["ENGINE"].rsplit(".")[-1] for alias in DATABASES}) > 1:
    # A replica is a copy of its primary, made by the primary's engine.
    raise ImproperlyConfigured(
        "Put the primary and its replicas on one engine: set DATABASE_URL_DEFAULT, "
        "DATABASE_URL_REPLICA1 and DATABASE_URL_REPLICA2 together "
        "(scripts/pg-replication.sh env), or none of them."
    )

DATABASE_ROUTERS = ["project.router.PrimaryReplicaRouter"]
REPLICAS = ["replica1", "replica2"]

# A replica further behind the primary than this is skipped for reads.
REPLICATION_MAX_LAG_SECONDS = 60
# Read-your-writes ends when a replica holds the client's write (by position);
# this is only its upper bound, against a stuck replica. It must outlast the
# largest lag of a usable replica (a system check says so).
REPLICATION_PIN_SECONDS = 90
# Pages that always read from the primary (matched against request.path_info,
# so they hold under a URL prefix): staff see their own edits at once.
PRIMARY_ONLY_PATHS = ["/admin/"]
# A replica that failed is skipped for this long, then tried again.
REPLICA_RETRY_SECONDS = 10
# How often a process re-reads a replica's heartbeat to know its lag.
REPLICA_CHECK_SECONDS = 1

# Right after the activity panel, so that it sees every write of the request,
# the session's included.
MIDDLEWARE = [
    MIDDLEWARE[0],
    "project.pinning.ReadYourWritesMiddleware",
    *MIDDLEWARE[1:],
]
TEMPLATES[0]["OPTIONS"]["context_processors"].append("project.pinning.reads")
ROOT_URLCONF = "project.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"project": {"handlers": ["console"], "level": "INFO"}},
}
