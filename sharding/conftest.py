"""At the project's root, so that it serves every test of this project, the
shared site tests included."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def fan_out_threads_let_go(django_db_setup):
    """The fan-out's threads keep their connections; PostgreSQL will not drop
    a database that still has one."""
    yield
    from project import fanout

    fanout.close_all()
