from tests.conftest import fresh_shard_map  # noqa: F401  (each test reads the map afresh)
