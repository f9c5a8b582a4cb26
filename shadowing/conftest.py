"""At the project's root, so that it serves every test of this project, the
shared site tests included."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from reviewsite.settings import read_only_uri

SNAPSHOT = settings.DATABASES["snapshot"]["NAME"]  # before the test run renames it


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The snapshot test database is a copy of production's, opened read-only,
    as the site opens the real one. On SQLite take_snapshot replaces the test
    file; on PostgreSQL it makes the test database, which the run then drops."""
    connection = connections["snapshot"]
    if connection.vendor == "postgresql":
        connection.settings_dict["NAME"] = f"test_{SNAPSHOT}"
    with django_db_blocker.unblock():
        call_command("take_snapshot", stdout=open("/dev/null", "w"))  # noqa: SIM115
    name = connection.settings_dict["NAME"]
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = read_only_uri(name)
    yield
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = name  # Django deletes the file by name
    else:
        from project.pg_snapshot import quote, run_on_server

        with django_db_blocker.unblock():
            run_on_server(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")


@pytest.fixture(autouse=True)
def no_hidden_rows_remembered():
    """Each test starts with the overlay's memo of hidden rows empty: two tests
    may build the very same snapshot and local changes, and the second would
    find the first one's (right) answer, and ask fewer queries."""
    from project import hidden_rows

    hidden_rows.HIDDEN.clear()
