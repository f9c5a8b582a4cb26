"""Settings shared by the four pattern projects.

Each project's ``project/settings.py`` star-imports this module and adds what
its pattern is about: DATABASES, DATABASE_ROUTERS and PATTERN_NAME.
"""

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# Demo mode (the default) is for a laptop: DEBUG on, the activity panel, the
# admin/admin account. Set DJANGO_DEBUG=0 for anything else.
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
DEMO_MODE = DEBUG

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY when DJANGO_DEBUG=0.")
    SECRET_KEY = "demo-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]

if not DEBUG:
    # Behind HTTPS in production: `manage.py check --deploy` passes clean.
    SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    # The pattern project first, so its templates and commands win.
    "project",
    "reviewsite.web",
    "reviewsite.products",
    "reviewsite.reviews",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    # First, so that it records the queries of all the middleware below.
    "reviewsite.web.activity.ActivityPanelMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "reviewsite.web.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reviewsite.web.context_processors.pattern",
            ],
        },
    },
]

WSGI_APPLICATION = "reviewsite.wsgi.application"

_VALIDATORS = "django.contrib.auth.password_validation."
# The demo's admin/admin account would fail every validator.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _VALIDATORS + name}
    for name in [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    if not DEMO_MODE
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_REDIRECT_URL = "products"
LOGOUT_REDIRECT_URL = "products"
# Messages travel in a cookie, so showing one never writes to a database.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # The activity panel's queries of a redirect, waiting for the client's
    # next page (web/activity.py): in this process's memory, never a database.
    "activity": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "activity-panel",
        "OPTIONS": {"MAX_ENTRIES": 100},
    },
}


def database(alias: str, sqlite_path: Path) -> dict:
    """The settings of one alias: a SQLite file, unless DATABASE_URL_<ALIAS> is set.

    DATABASE_URL_DEFAULT=postgres://postgres@127.0.0.1:5432/shop puts the
    ``default`` alias on PostgreSQL (psycopg 3); each alias is set on its own,
    so engines can be mixed. Routers never change for it: settings only.
    """
    if url := os.environ.get(f"DATABASE_URL_{alias.upper()}"):
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    return sqlite_database(sqlite_path)


def sqlite_test_file(path: Path) -> Path:
    """Where a test run keeps the test copy of the SQLite file at ``path``.

    In files, not memory: tests write from several threads, and some patterns
    copy one database into another. Named for the test run, in the temporary
    directory, so that two runs in one checkout (two terminals, parallel tox
    envs) never share a file; processes a run starts inherit its name.
    """
    run = os.environ.setdefault("MULTIDB_TEST_RUN", str(os.getpid()))
    project = Path(path).resolve().parent.name
    return Path(tempfile.gettempdir()) / f"multidb-{run}-{project}-{Path(path).name}"


def read_only_uri(path) -> str:
    """A SQLite URI that opens ``path`` read-only: SQLite itself refuses every
    write, and a missing file is an error, not a new empty database. Made
    with as_uri(), so a path with "#", "?" or "%" in it stays one path."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def sqlite_path(name) -> Path:
    """The file a SQLite NAME names: a path, or a ``file:...`` URI such as
    read_only_uri() makes."""
    name = str(name)
    return Path(unquote(urlparse(name).path) if name.startswith("file:") else name)


def read_only_database(alias: str, path: Path) -> dict:
    """An alias the site only reads (a replica, a snapshot): on SQLite, opened
    read-only by SQLite itself, so that no code can write it, and an error,
    not a new empty file, if it is missing. Tests copy data into a plain test
    file, which conftest.py then reopens read-only too."""
    settings_dict = database(alias, path)
    if settings_dict["ENGINE"].endswith("sqlite3"):
        # Opens the new copy when one is renamed over the file (copies/).
        settings_dict["ENGINE"] = "reviewsite.copies.sqlite3"
        settings_dict["TEST"] = {"NAME": sqlite_test_file(settings_dict["NAME"])}
        settings_dict["NAME"] = read_only_uri(settings_dict["NAME"])
        # No WAL pragma: a read-only connection may not set the journal mode.
        settings_dict["OPTIONS"] = {"timeout": 20}
    elif settings_dict["ENGINE"].endswith("postgresql"):
        # Every transaction of the session read-only: a write is refused. (A
        # role with SELECT only is stronger: a session cannot SET it back.)
        options = settings_dict.setdefault("OPTIONS", {})
        options["options"] = "-c default_transaction_read_only=on"
    return settings_dict


def sqlite_database(path: Path) -> dict:
    """One SQLite database file, set up for a web server's concurrent requests.

    WAL lets readers work while a writer writes; IMMEDIATE takes the write lock
    when a transaction starts, so two writers queue on the busy timeout instead
    of failing with "database is locked" when one of them upgrades its lock.
    SQLITE_DIR, if set, moves the file there: load tests use scratch copies.
    """
    if directory := os.environ.get("SQLITE_DIR"):
        path = Path(directory) / Path(path).name
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }
