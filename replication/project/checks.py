"""The pin's bound must outlast the lag a usable replica may have."""

from django.conf import settings
from django.core.checks import Error


def pin_outlasts_lag(app_configs, **kwargs) -> list[Error]:
    """A client's cookie ends after REPLICATION_PIN_SECONDS, whatever the
    replicas hold. That is safe only if every replica still in use by then
    holds the write: one at most REPLICATION_MAX_LAG_SECONDS behind, measured
    up to REPLICA_CHECK_SECONDS ago."""
    largest_lag = settings.REPLICATION_MAX_LAG_SECONDS + settings.REPLICA_CHECK_SECONDS
    if largest_lag <= settings.REPLICATION_PIN_SECONDS:
        return []
    return [
        Error(
            f"REPLICATION_PIN_SECONDS ({settings.REPLICATION_PIN_SECONDS}) ends a "
            "client's read-your-writes before a usable replica is sure to hold "
            f"its write (up to {largest_lag} s behind).",
            hint="Set REPLICATION_PIN_SECONDS to at least "
            "REPLICATION_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS.",
            id="replication.E001",
        )
    ]
