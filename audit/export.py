"""CSV export of audit events (streamed, so a long trail never sits in memory)."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from audit.blinding import Blinder
from audit.models import AuditEvent

HEADER = [
    "seq", "at_utc", "user", "ip", "action", "action_name", "trial", "object_type", "object_id", "object", "reason", "changes",
    "data", "hash", "prev_hash",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(value: str) -> str:
    # Spreadsheet formula injection: a cell starting with = + - @ is prefixed so it stays text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def audit_csv_rows(events: Iterable[AuditEvent], blinder: Blinder) -> Iterator[str]:
    """The CSV lines of `events`, with the fields the viewer may not see blinded (audit.blinding)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for e in blinder.events(events):
        yield writer.writerow([
            e.seq, e.at.isoformat(), _safe(e.actor_label), e.ip or "", e.action, e.action_label, e.trial.code if e.trial_id else "",
            e.target_type, e.target_id, _safe(e.target_repr), _safe(e.reason),
            json.dumps(e.shown_changes, sort_keys=True), json.dumps(e.shown_data, sort_keys=True), e.hash, e.prev_hash,
        ])
