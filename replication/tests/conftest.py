import pytest

from project import replicas


@pytest.fixture(autouse=True)
def fresh_replica_health():
    """Each test starts knowing nothing about the replicas' health."""
    replicas.forget()
    yield
    replicas.forget()
