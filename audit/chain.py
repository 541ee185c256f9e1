"""Verification of the audit hash chain (used by `manage.py verify_audit`)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audit.models import GENESIS_HASH, AuditEvent


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    event_id: int | None
    message: str

    def __str__(self) -> str:
        ident = f"event #{self.seq}" + (f" (id {self.event_id})" if self.event_id is not None else "")
        return f"{ident}: {self.message}"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_events(events: Iterable[AuditEvent]) -> ChainReport:
    """Walk events in seq order; stop at the first one that breaks the chain."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for event in events:
        if event.seq != expected_seq:
            missing = f"#{expected_seq}" if event.seq == expected_seq + 1 else f"#{expected_seq}..#{event.seq - 1}"
            return ChainReport(checked, expected_seq - 1, prev_hash, ChainProblem(
                event.seq, event.pk, f"the preceding event {missing} is missing (deleted from the database)"))
        if event.prev_hash != prev_hash:
            return ChainReport(checked, expected_seq - 1, prev_hash, ChainProblem(
                event.seq, event.pk, "its link to the previous event does not match (a previous event was altered or removed)"))
        if event.compute_hash() != event.hash:
            return ChainReport(checked, expected_seq - 1, prev_hash, ChainProblem(
                event.seq, event.pk, f"its content does not match its hash (altered in the database; action {event.action!r})"))
        checked += 1
        prev_hash = event.hash
        expected_seq += 1
    return ChainReport(checked, expected_seq - 1, prev_hash, None)


def verify_chain(expect_head: str | None = None) -> ChainReport:
    """Verify the whole stored chain; `expect_head` ("SEQ:HASH") catches removal of the newest events."""
    report = verify_events(AuditEvent.objects.order_by("seq").iterator(chunk_size=2000))
    if report.ok and expect_head:
        seq_text, _, hash_text = expect_head.partition(":")
        seq = int(seq_text)
        if report.head_seq < seq:
            return ChainReport(report.checked, report.head_seq, report.head_hash, ChainProblem(
                report.head_seq + 1, None, f"events after #{report.head_seq} are missing (anchor says #{seq} exists)"))
        anchored = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
        if anchored != hash_text:
            return ChainReport(report.checked, report.head_seq, report.head_hash, ChainProblem(
                seq, None, "does not match the recorded anchor hash"))
    return report
