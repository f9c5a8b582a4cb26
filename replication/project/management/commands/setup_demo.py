"""``setup_demo`` for replication: fill the primary, then copy it to the replicas."""

from django.core.management import call_command

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
        call_command("replicate", stdout=self.stdout)
