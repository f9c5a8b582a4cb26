"""At the project's root, so that it serves every test of this project, the
shared site tests included."""

import pytest
from django.core.management import call_command
from django.db import connections

from reviewsite.settings import read_only_uri


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The snapshot test database is a copy of production's, opened read-only,
    as the site opens the real one."""
    with django_db_blocker.unblock():
        call_command("take_snapshot", stdout=open("/dev/null", "w"))  # noqa: SIM115
    connection = connections["snapshot"]
    name = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = read_only_uri(name)
    yield
    connection.close()
    connection.settings_dict["NAME"] = name  # Django deletes the file by name
