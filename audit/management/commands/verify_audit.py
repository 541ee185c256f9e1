"""Verify the audit hash chain; exit non-zero naming the first bad event."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_chain


class Command(BaseCommand):
    help = "Check that no audit event was altered or deleted directly in the database."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--expect-head",
            metavar="SEQ:HASH",
            help="an anchor recorded earlier (printed by this command); detects removal of the newest events",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain(expect_head=options.get("expect_head"))
        if not report.ok:
            raise CommandError(f"Audit trail BROKEN at {report.problem} ({report.checked} events verified before it)")
        self.stdout.write(
            self.style.SUCCESS(f"Audit trail intact: {report.checked} events verified.")
            + f"\nAnchor (keep it elsewhere to detect removal of the newest events): {report.head_seq}:{report.head_hash}"
        )
