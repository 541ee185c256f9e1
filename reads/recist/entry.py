"""Whether a reader's follow-up entry is complete enough to sign (§3, §10.3 step 2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import Baseline
from .parsing import parse_new_lesions, parse_non_target_status, parse_target_value


@dataclass(frozen=True)
class EntryCompleteness:
    """What still stops a timepoint from being signed.

    `missing` lists what has not been entered yet; `problems` lists values that cannot be used.
    A target entered as null ("not assessable") or a non-target entered as NOT_EVALUATED is a
    complete answer: the engine then reports NE (§7.3) and the reader may sign.
    """

    missing: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def is_complete(self) -> bool:
        return not self.missing and not self.problems


def timepoint_entry_completeness(baseline: Baseline, entry: Mapping[str, Any]) -> EntryCompleteness:
    """Check a draft follow-up entry, shaped like a case-file follow-up (`targets`,
    `non_targets`, `new_lesions`; `weeks` is not the reader's to enter), against the baseline:
    every target has a value, TOO_SMALL or null; every non-target has a status; the new-lesion
    question is answered; nothing unknown or invalid is recorded."""
    missing: list[str] = []
    problems: list[str] = []
    targets = entry.get("targets") or {}
    non_targets = entry.get("non_targets") or {}
    target_ids = {t.lesion_id for t in baseline.targets}
    non_target_ids = {n.lesion_id for n in baseline.non_targets}
    for target in baseline.targets:
        if target.lesion_id not in targets:
            missing.append(
                f"target {target.lesion_id}: no measurement (enter mm, TOO_SMALL or not assessable)"
            )
            continue
        try:
            parse_target_value(targets[target.lesion_id])
        except ValueError as error:
            problems.append(f"target {target.lesion_id} {error}")
    for non_target in baseline.non_targets:
        if non_target.lesion_id not in non_targets:
            missing.append(f"non-target {non_target.lesion_id}: no status")
            continue
        try:
            parse_non_target_status(non_targets[non_target.lesion_id])
        except ValueError as error:
            problems.append(f"non-target {non_target.lesion_id} {error}")
    for lesion_id in targets:
        if lesion_id not in target_ids:
            problems.append(f"target {lesion_id} is not a baseline target")
    for lesion_id in non_targets:
        if lesion_id not in non_target_ids:
            problems.append(f"non-target {lesion_id} is not a baseline non-target")
    if entry.get("new_lesions") is None:
        missing.append("new lesions: not answered (NO, YES or EQUIVOCAL)")
    else:
        try:
            parse_new_lesions(entry["new_lesions"])
        except ValueError as error:
            problems.append(f"new_lesions {error}")
    return EntryCompleteness(missing=tuple(missing), problems=tuple(problems))
