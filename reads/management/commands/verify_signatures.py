"""`manage.py verify_signatures`: check every current read signature against what it signs; exit 1 on any problem."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from reads.verification import signatures_verify


class Command(BaseCommand):
    help = ("Recompute each current read signature's SHA-256 from its stored content and from the live lesions, "
            "observations and responses; report (exit 1) any signature whose content or record changed after signing.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = signatures_verify()
        for problem in report.problems:
            self.stderr.write(str(problem))
        if not report.ok:
            raise CommandError(f"{len(report.problems)} signature problem(s) found ({report.checked} signatures "
                               "checked).", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"Signatures intact: {report.checked} verified against their content."))
