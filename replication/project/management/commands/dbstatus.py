"""``manage.py dbstatus``: each replica's lag behind the primary and its health."""

from django.conf import settings
from django.core.management.base import BaseCommand

from project.replicas import downtime, health


class Command(BaseCommand):
    help = "Show each replica's lag, position, and whether reads use it."

    def handle(self, *args, **options):
        limit = settings.REPLICATION_MAX_LAG_SECONDS
        for alias in settings.REPLICAS:
            state = health(alias, fresh=True)
            if state.down:
                verdict = f"DOWN {downtime(state)} ({state.error})"
            elif state.lag is None:
                verdict = "no copy yet: run `manage.py replicate`"
            else:
                verdict = (
                    "in use" if state.usable else f"skipped: over {limit} s behind"
                )
            lag = "-" if state.lag is None else f"{state.lag:.1f} s"
            position = "-" if state.position is None else state.position
            self.stdout.write(
                f"{alias:<10} lag {lag:>9}   position {position:>12}   {verdict}"
            )
