"""`python manage.py recover_intake`: the crash-recovery sweep of intake, once, with what it did."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from imaging.intake.recovery import intake_recover


class Command(BaseCommand):
    help = ("Queue again files stuck waiting for processing (refuse them after too many attempts), finish "
            "submissions whose files are all done, and remove identified originals nobody needs from quarantine.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Intake recovery: {intake_recover()}.")
