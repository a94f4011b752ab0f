from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.demo import login_table, seed_demo


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
        else:
            self.stdout.write("Demo data already present; nothing created.")
        self.stdout.write(login_table())
