"""Verification of the audit hash chain (used by `manage.py verify_audit`).

What a successful verification proves: every stored event has the keyed hash of its content, links
to its predecessor, and the sequence has no gap; and the chain passes through every head recorded in
the checkpoint file (audit.checkpoint), so no newest event was removed and the chain was not
replaced. What it cannot see: an attacker holding both the audit key and write access to the
checkpoint file, or one who removes the newest events and the lines of the checkpoint file about
them (keep that file on append-only storage and copy it elsewhere).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from audit.checkpoint import CheckpointFileError, Checkpoints, read_checkpoints
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
    checkpoints: Checkpoints | None = None
    checkpoints_matched: int = 0
    unkeyed: int = 0  # events up to AUDIT_UNKEYED_UNTIL that carry a plain SHA-256

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_events(events: Iterable[AuditEvent], heads: dict[int, str] | None = None,
                  unkeyed_until: int | None = None) -> ChainReport:
    """Walk events in seq order; stop at the first one that breaks the chain or misses a checkpoint."""
    heads = heads or {}
    unkeyed_until = settings.AUDIT_UNKEYED_UNTIL if unkeyed_until is None else unkeyed_until
    expected_seq, prev_hash, checked, matched, unkeyed = 1, GENESIS_HASH, 0, 0, 0

    def broken(event: AuditEvent, message: str) -> ChainReport:
        return ChainReport(checked, expected_seq - 1, prev_hash, ChainProblem(event.seq, event.pk, message),
                           checkpoints_matched=matched, unkeyed=unkeyed)

    for event in events:
        if event.seq != expected_seq:
            missing = f"#{expected_seq}" if event.seq == expected_seq + 1 else f"#{expected_seq}..#{event.seq - 1}"
            return broken(event, f"the preceding event {missing} is missing (deleted from the database)")
        if event.prev_hash != prev_hash:
            return broken(event, "its link to the previous event does not match (a previous event was altered or removed)")
        if event.compute_hash() != event.hash:
            if event.seq <= unkeyed_until and event.unkeyed_hash() == event.hash:
                unkeyed += 1
            elif event.unkeyed_hash() == event.hash:
                return broken(event, "it carries an unkeyed hash (re-hashed without the audit key, or written before "
                                     "keyed hashing: see AUDIT_UNKEYED_UNTIL in docs/deployment.md)")
            else:
                return broken(event, f"its content does not match its hash (altered in the database, or hashed with "
                                     f"another audit key; action {event.action!r})")
        if event.seq in heads:
            if heads[event.seq] != event.hash:
                return broken(event, "its hash differs from the checkpoint recorded outside the database when it was "
                                     "the newest event (the chain was re-hashed or replaced)")
            matched += 1
        checked += 1
        prev_hash = event.hash
        expected_seq += 1
    return ChainReport(checked, expected_seq - 1, prev_hash, None, checkpoints_matched=matched, unkeyed=unkeyed)


def _with(report: ChainReport, checkpoints: Checkpoints, problem: ChainProblem | None = None) -> ChainReport:
    return ChainReport(report.checked, report.head_seq, report.head_hash, problem or report.problem, checkpoints,
                       report.checkpoints_matched, report.unkeyed)


def verify_chain(expect_head: str | None = None) -> ChainReport:
    """Verify the whole stored chain against the checkpoint file and, if given, an anchor "SEQ:HASH"."""
    try:
        checkpoints = read_checkpoints()
    except CheckpointFileError as exc:
        return ChainReport(0, 0, GENESIS_HASH, ChainProblem(0, None, f"the checkpoint file is damaged: {exc}"))
    heads = dict(checkpoints.heads)
    if expect_head:
        seq_text, _, hash_text = expect_head.partition(":")
        if not seq_text.isdigit() or len(hash_text) != 64:
            return ChainReport(0, 0, GENESIS_HASH, ChainProblem(0, None, f"{expect_head!r} is not an anchor (SEQ:HASH)"))
        if heads.get(int(seq_text), hash_text) != hash_text:
            return ChainReport(0, 0, GENESIS_HASH, ChainProblem(
                int(seq_text), None, "the anchor given and the checkpoint file disagree about this event's hash"))
        heads[int(seq_text)] = hash_text
    report = _with(verify_events(AuditEvent.objects.order_by("seq").iterator(chunk_size=2000), heads), checkpoints)
    if report.ok:
        newest = max(heads, default=0)
        if newest > report.head_seq:
            source = "the anchor" if expect_head and int(expect_head.partition(":")[0]) == newest else "a checkpoint"
            return _with(report, checkpoints, ChainProblem(
                report.head_seq + 1, None,
                f"events after #{report.head_seq} are missing ({source} recorded outside the database says #{newest} "
                f"existed)"))
    return report
