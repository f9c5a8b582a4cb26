import pytest

from project import pinning, replicas


@pytest.fixture(autouse=True)
def fresh_replica_health():
    """Each test starts knowing nothing about the replicas' health, nor about
    writes an earlier test made from this thread."""
    replicas.forget()
    token = pinning._reads.set(None)
    yield
    pinning._reads.reset(token)
    replicas.forget()
