"""Verify the audit hash chain; exit non-zero naming the first bad event."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_chain


class Command(BaseCommand):
    help = ("Check that no audit event was altered, deleted or re-hashed in the database, and that none of the "
            "newest is missing (against the checkpoints kept outside the database, AUDIT_CHECKPOINT_FILE).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--expect-head",
            metavar="SEQ:HASH",
            help="also check an anchor recorded earlier elsewhere (printed by this command)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain(expect_head=options.get("expect_head"))
        if not report.ok:
            raise CommandError(f"Audit trail BROKEN at {report.problem} ({report.checked} events verified before it)")
        lines = [self.style.SUCCESS(f"Audit trail intact: {report.checked} events verified.")]
        checkpoints = report.checkpoints
        if checkpoints is not None and checkpoints.exists:
            lines.append(f"Checkpoints: {report.checkpoints_matched} matched in {checkpoints.path} (newest #{checkpoints.newest}).")
            if checkpoints.newest < report.head_seq:
                lines.append(f"  {report.head_seq - checkpoints.newest} newer events have no checkpoint in this file "
                             "(written by another machine, or while the file could not be written).")
        elif checkpoints is not None and report.checked:
            lines.append(self.style.WARNING(
                f"WARNING: no checkpoint file at {checkpoints.path}: removal of the newest events cannot be detected."))
        if report.unkeyed:
            lines.append(f"{report.unkeyed} events written before keyed hashing (up to AUDIT_UNKEYED_UNTIL) carry a plain SHA-256.")
        lines.append(f"Anchor (to keep elsewhere as well): {report.head_seq}:{report.head_hash}")
        self.stdout.write("\n".join(lines))
