"""Shared by the replication tests: real copies of the primary, in test files."""

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
        replicate()
