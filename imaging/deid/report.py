"""What the folder runners print: one line (or JSON object) per file and a summary, for the CLI and manage.py."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from .folder import DUPLICATE, OK, REJECTED, SKIPPED, FileOutcome

__all__ = ["Tally", "outcome_line", "outcome_record"]


def _regions_text(outcome: FileOutcome) -> str:
    report = outcome.result.burned_in if outcome.result is not None else None
    if report is None or not report.flagged:
        return ""
    why = ", ".join(report.reasons)
    if report.redacted:
        sources = Counter(region.source for region in report.regions)
        by_source = ", ".join(f"{count} {source}" for source, count in sorted(sources.items()))
        return f"  REDACTED {len(report.regions)} region(s) ({by_source}) [{why}]"
    return f"  FLAGGED, NOT REDACTED: {report.note or 'review the image'} [{why}]"


def outcome_line(outcome: FileOutcome) -> str:
    """One line for a person: status, input path, output or reason, and the burned-in text outcome."""
    detail = outcome.output if outcome.status in (OK, DUPLICATE) else outcome.reason
    if outcome.status == DUPLICATE:
        detail = f"{outcome.reason}: {outcome.output}"
    return f"{outcome.status:9s} {outcome.source}  {detail}{_regions_text(outcome)}"


def outcome_record(outcome: FileOutcome) -> dict[str, object]:
    """The outcome as a JSON-ready dict (what was refused and why, flagged, redacted, descriptors)."""
    record: dict[str, object] = {
        "source": outcome.source, "status": outcome.status, "reason": outcome.reason, "output": outcome.output,
    }
    if outcome.result is not None:
        record["burned_in"] = outcome.result.burned_in.as_dict()
        record["descriptors"] = dict(outcome.result.cleaned_descriptors)
    return record


@dataclass
class Tally:
    """Counts for the summary line and the exit status."""

    counts: Counter[str] = field(default_factory=Counter)
    redacted: int = 0
    review: int = 0

    def add(self, outcome: FileOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.result is not None and outcome.status in (OK, DUPLICATE):  # a re-run still needs the review
            report = outcome.result.burned_in
            self.redacted += report.redacted
            self.review += report.review_required

    @property
    def files(self) -> int:
        return sum(self.counts.values())

    def summary(self, elapsed: float) -> str:
        counts = ", ".join(f"{self.counts[status]} {status}" for status in (OK, DUPLICATE, SKIPPED, REJECTED))
        rate = self.files / elapsed if elapsed > 0 else 0.0
        return (f"{self.files} files: {counts}; burned-in text: {self.redacted} redacted, {self.review} flagged "
                f"and not redacted (review) in {elapsed:.2f} s ({rate:.1f} files/s)")

    def exit_status(self, *, strict: bool) -> int:
        """1 when a file was refused, or (strict) when a flagged image was left for review; else 0."""
        if self.counts[REJECTED] or (strict and self.review):
            return 1
        return 0


def print_outcome(outcome: FileOutcome, *, as_json: bool, write: object) -> None:
    text = json.dumps(outcome_record(outcome)) if as_json else outcome_line(outcome)
    write(text)  # type: ignore[operator]
