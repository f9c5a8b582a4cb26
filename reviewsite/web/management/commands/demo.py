"""``manage.py demo``: set the demo up, then run everything the pattern needs
in this terminal until Ctrl-C (what ``make demo`` runs).

The server, and what a pattern needs beside it (replication's follower: the
project's own ``demo`` adds it), each in a process of its own, each line of
theirs prefixed with its name. Ctrl-C stops all of it; if one of them ends
by itself, the others are stopped and the command fails saying which
(reviewsite/supervisor.py).
"""

import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from reviewsite.supervisor import ChildEnded, run_together
from reviewsite.web.management.commands.setup_demo import DEFAULT_ADDR, addrport


class Command(BaseCommand):
    help = (
        "Create and fill the demo databases, then run the site (and what else "
        "the pattern needs) in the foreground until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--addr",
            default=DEFAULT_ADDR,
            type=addrport,
            help="Where runserver serves (make demo's ADDR).",
        )

    def handle(self, *args, addr, **options):
        call_command("setup_demo", addr=addr, stdout=self.stdout, stderr=self.stderr)
        connections.close_all()  # each process opens its own
        commands = self.commands(addr)
        shown = {name: f"{name} ({' '.join(args)})" for name, args in commands.items()}
        self.stdout.write(f"Running {', '.join(shown.values())}; Ctrl-C stops all.")
        manage = [sys.executable, "manage.py"]
        try:
            run_together(
                {name: manage + args for name, args in commands.items()},
                self.print_line,
                cwd=settings.BASE_DIR,
            )
        except ChildEnded as ended:
            rest = (
                "the others were stopped" if len(commands) > 1 else "nothing else ran"
            )
            raise CommandError(
                f"{shown[ended.name]} ended by itself ({ended.how}); {rest}."
            ) from None
        self.stdout.write("Stopped.")

    def commands(self, addr: str) -> dict[str, list[str]]:
        """The manage.py commands to run, by the name that prefixes their
        lines. A pattern that needs more beside the server adds it."""
        return {"web": ["runserver", addr]}

    def print_line(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # through a pipe (make demo | tee) too, at once
