"""``setup_demo`` for replication: fill the primary, then copy it to the replicas."""

from django.core.management import call_command
from django.db import connections

from project.pinning import use_primary
from reviewsite.web.management.commands.setup_demo import Command as SetupDemo


class Command(SetupDemo):
    def handle(self, *args, **options):
        # Every read of the recipe must see what it just wrote.
        with use_primary():
            super().handle(*args, **options)

    def databases_to_migrate(self) -> list[str]:
        return ["default"]  # replicas get schema and data by replication

    def after_populate(self) -> None:
        if connections["default"].vendor == "sqlite":
            call_command("replicate", stdout=self.stdout)
        else:
            # The delayed standby may show fewer rows below: that is the lag.
            self.step("Real standbys replicate by themselves: nothing to copy.")
