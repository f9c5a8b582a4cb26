"""``demo`` for replication: the server, and on SQLite the follower beside it."""

from django.db import connections

from reviewsite.web.management.commands.demo import Command as Demo

# Seconds between copies: the lag the two-browser story lets you see
# (README.rst, "What to try").
FOLLOW_INTERVAL = "20"


class Command(Demo):
    def commands(self, addr: str) -> dict[str, list[str]]:
        commands = super().commands(addr)
        if connections["default"].vendor == "sqlite":
            # SQLite does not replicate: `replicate --follow` plays the stream,
            # a line for each copy it makes. Real standbys need nothing.
            commands["replicate"] = [
                "replicate",
                "--follow",
                "--interval",
                FOLLOW_INTERVAL,
            ]
        return commands
