"""At the project's root, so that it serves every test of this project, the
shared site tests included."""

import time

import pytest
from django.conf import settings
from django.db import connections

from project.pinning import use_primary
from reviewsite.settings import read_only_uri

ON_STANDBYS = connections["default"].vendor == "postgresql"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """SQLite: open the replicas' test files read-only, as the site opens the
    real ones (Django creates and migrates them writable; after that only
    `replicate` writes a replica, from its own connection).

    PostgreSQL: wait until every standby has replayed the test database the
    primary just created and migrated (replica2 applies WAL late on purpose).
    """
    if ON_STANDBYS:
        with django_db_blocker.unblock():
            wait_for_standbys()
        yield
        return
    names = {}
    for alias in settings.REPLICAS:
        connection = connections[alias]
        if connection.vendor == "sqlite":
            names[alias] = connection.settings_dict["NAME"]
            connection.close()
            connection.settings_dict["NAME"] = read_only_uri(names[alias])
    yield
    for alias, name in names.items():  # Django deletes the files by name
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name


def wait_for_standbys(timeout: float = 60) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (position,) = cursor.fetchone()
    for alias in settings.REPLICAS:
        deadline = time.monotonic() + timeout
        # The maintenance database: the test database may not be there yet.
        with connections[alias]._nodb_cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s", [position])
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.1)  # polling another server
            else:
                pytest.fail(f"{alias} did not replay the test database in {timeout} s")


@pytest.fixture(autouse=True)
def site_tests_read_the_primary_on_standbys(request):
    """On real standbys a TestCase's rows, never committed, never reach a
    standby: the shared site tests (they check the site, not replication)
    read from the primary there. test_standbys.py checks replication itself."""
    if ON_STANDBYS and "reviewsite" in request.node.nodeid.split("::")[0]:
        with use_primary():
            yield
    else:
        yield
