import pytest

from project import shardmap


@pytest.fixture(autouse=True)
def fresh_shard_map():
    """Each test reads the shard map afresh: tests move logical shards."""
    shardmap.forget()
    yield
    shardmap.forget()
