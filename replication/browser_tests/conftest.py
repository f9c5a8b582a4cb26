from tests.conftest import fresh_replica_health  # noqa: F401  (each test starts afresh)
