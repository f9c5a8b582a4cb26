"""At the project's root, so that it serves every test of this project, the
shared site tests included."""

import pytest
from django.conf import settings
from django.db import connections

from reviewsite.settings import read_only_uri


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Open the replicas' test files read-only, as the site opens the real ones.

    Django creates and migrates test databases writable; once that is done,
    only `replicate` writes a replica, from its own connection.
    """
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
