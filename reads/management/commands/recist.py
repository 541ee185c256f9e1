"""`manage.py recist FILE.json [--check]`: evaluate RECIST 1.1 case files (recist-cases-format.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reads.recist.cases import run_cli


class Command(BaseCommand):
    help = (
        "Evaluate RECIST 1.1 cases from a JSON case file and print the results as JSON. "
        "With --check, compare with each case's expected block and fail on any difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="case file (JSON list of cases), or - for stdin")
        parser.add_argument(
            "--check",
            action="store_true",
            help="compare with each case's expected block; exit non-zero on any difference",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        status = run_cli(options["file"], options["check"], self.stdout, self.stderr)
        if status:
            # CommandError makes manage.py exit with this status (after our own messages).
            raise CommandError(f"recist finished with status {status}", returncode=status)
