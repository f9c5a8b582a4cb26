"""Triggers that a shard's database keeps, as SQL per vendor: the review
figures (``productstats.py``) and the fence (``fence.py``) are two sets."""

from django.db import connections


class Triggers:
    """A set of triggers: ``sql[vendor][step]`` lists the statements of a step
    (install, uninstall, and on PostgreSQL suspend and resume); ``names``
    are the triggers that must be there once installed."""

    def __init__(self, what: str, sql: dict, names: dict) -> None:
        self.what, self.sql, self.names = what, sql, names

    def run(self, alias: str, step: str) -> None:
        vendor = connections[alias].vendor
        if vendor not in self.sql:
            raise NotImplementedError(f"No {self.what} triggers for {vendor}.")
        with connections[alias].cursor() as cursor:
            for statement in self.sql[vendor][step]:
                cursor.execute(statement)

    def installed(self, alias: str) -> bool:
        """Whether they are all there: SQLite drops a table's triggers with
        the table, and its migrations rebuild a table to alter a column."""
        vendor = connections[alias].vendor
        listed = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
            "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        }
        with connections[alias].cursor() as cursor:
            cursor.execute(listed[vendor])
            present = {name for (name,) in cursor.fetchall()}
        return self.names[vendor] <= present
