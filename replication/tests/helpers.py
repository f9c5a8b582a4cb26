"""Shared by the replication tests: real copies of the primary, in test files."""

from contextlib import contextmanager

from django.core.management import call_command
from django.test import TransactionTestCase

from reviewsite.reviews.models import Review
from reviewsite.testing import on_sqlite_only, raw_count

ALL = {"default", "replica1", "replica2"}
REPLICAS = ["replica1", "replica2"]


def replicate(*args: str) -> None:
    call_command("replicate", *args, stdout=open("/dev/null", "w"))  # noqa: SIM115


def reviews_on(alias: str, **where) -> int:
    return raw_count(alias, Review, **where)


@on_sqlite_only  # `replicate` plays replication; real standbys: test_standbys
class ReplicatedTestCase(TransactionTestCase):
    """Committed data, and replicas copied from the primary before each test."""

    databases = ALL

    def setUp(self):
        from project import pinning

        replicate()
        # The test starts as code that has written nothing yet (flushing and
        # filling the test database wrote from this thread).
        pinning._reads.set(None)


@contextmanager
def in_request(replica: str):
    """Route as inside a request whose replica is ``replica``."""
    from project import pinning

    token = pinning._reads.set(pinning.Reads(replica=replica))
    try:
        yield
    finally:
        pinning._reads.reset(token)
