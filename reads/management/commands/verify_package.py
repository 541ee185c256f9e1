"""`manage.py verify_package FILE.zip`: check a read package against its manifest (a thin wrapper over verify_package)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reads.package.manifest import verify_package


class Command(BaseCommand):
    help = "Check that every file of a read package is present, none is extra and every SHA-256 matches its manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("package", help="path of the package zip")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["package"]
        mismatch = verify_package(path)
        if mismatch is not None:
            # CommandError exits with status 1 and prints the message on stderr.
            raise CommandError(f"{path}: {mismatch}")
        self.stdout.write(f"{path}: OK, every file matches the manifest")
