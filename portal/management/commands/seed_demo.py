from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from portal.demo import login_table, seed_demo

TREND_DAYS = 84  # the dashboard's trend (reporting.views.TREND_DAYS)


class Command(BaseCommand):
    help = "Create the demo organisations, staff and requests (synthetic data). Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any organisation exists already.")
        parser.add_argument(
            "--scale", type=float, default=1.0, help="Multiply the number of demo requests (default 1: about 500)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created = seed_demo(only_if_empty=options["if_empty"], scale=options["scale"])
        if created:
            self.stdout.write(self.style.SUCCESS("Created demo data: " + ", ".join(created)))
            # The dashboard's twelve-week trend from the demo's history, as the daily job would have stored it
            # (reporting, which the portal may not import, owns the command).
            call_command("snapshot_metrics", days=TREND_DAYS, stdout=self.stdout)
        else:
            self.stdout.write("Demo data already present; nothing created.")
        self.stdout.write(login_table())
