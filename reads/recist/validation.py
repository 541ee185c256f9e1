"""Validation of what a reader entered, with one precise message per broken rule (§§1-3, §10.3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .baseline import (
    LYMPH_NODES,
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    Measurability,
    classify_target,
    organ_key,
)
from .model import Baseline, FollowUp, TargetLesion, TooSmall
from .numbers import format_mm


class IssueCode(StrEnum):
    """What kind of rule an entry breaks."""

    NO_BASELINE_DISEASE = "no_baseline_disease"
    DUPLICATE_LESION_ID = "duplicate_lesion_id"
    TOO_MANY_TARGETS = "too_many_targets"
    TOO_MANY_TARGETS_IN_ORGAN = "too_many_targets_in_organ"
    TARGET_TOO_SMALL = "target_too_small"
    NODAL_TARGET_TOO_SMALL = "nodal_target_too_small"
    TARGET_NOT_MEASURABLE = "target_not_measurable"
    MISSING_LESION = "missing_lesion"
    UNKNOWN_LESION = "unknown_lesion"
    FOLLOWUPS_OUT_OF_ORDER = "followups_out_of_order"
    BAD_VALUE = "bad_value"


@dataclass(frozen=True)
class ValidationIssue:
    """One broken rule: a machine-readable code, the lesion and follow-up it concerns, and a
    sentence for the reader. `followup_index` is 0-based; messages count from 1."""

    code: IssueCode
    message: str
    lesion_id: str | None = None
    followup_index: int | None = None

    def __str__(self) -> str:
        return self.message


class RecistValidationError(ValueError):
    """Raised by the engine when the input breaks a rule; carries every issue found."""

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(issue.message for issue in self.issues))


def followup_label(index: int, weeks: Decimal | None) -> str:
    """How messages name a follow-up: "follow-up 2 (week 16)"."""
    if weeks is None:
        return f"follow-up {index + 1}"
    return f"follow-up {index + 1} (week {format_mm(weeks)})"


def validate_baseline(baseline: Baseline) -> list[ValidationIssue]:
    """Check a baseline selection against §§1-2: some disease, unique ids, at most 5 targets,
    at most 2 per organ (all nodes one organ, paired organs one organ), every target measurable
    (non-nodal LD >= 10 mm or >= 2 x slice thickness when thicker than 5 mm; node SA >= 15 mm)."""
    issues: list[ValidationIssue] = []
    if not baseline.targets and not baseline.non_targets:
        issues.append(
            ValidationIssue(
                IssueCode.NO_BASELINE_DISEASE,
                "baseline has no target and no non-target lesion",
            )
        )
    seen: set[str] = set()
    for lesion_id in baseline.lesion_ids:
        if not lesion_id:
            issues.append(ValidationIssue(IssueCode.BAD_VALUE, "a baseline lesion has an empty id"))
        elif lesion_id in seen:
            issues.append(
                ValidationIssue(
                    IssueCode.DUPLICATE_LESION_ID,
                    f"lesion id {lesion_id} is used for more than one baseline lesion",
                    lesion_id=lesion_id,
                )
            )
        seen.add(lesion_id)
    if len(baseline.targets) > MAX_TARGETS:
        ids = ", ".join(t.lesion_id for t in baseline.targets)
        issues.append(
            ValidationIssue(
                IssueCode.TOO_MANY_TARGETS,
                f"{len(baseline.targets)} target lesions ({ids}): at most {MAX_TARGETS} are allowed",
            )
        )
    issues.extend(_organ_limit_issues(baseline))
    for target in baseline.targets:
        issues.extend(_measurability_issues(target))
    return issues


def _organ_limit_issues(baseline: Baseline) -> list[ValidationIssue]:
    by_organ: dict[str, list[str]] = defaultdict(list)
    for target in baseline.targets:
        by_organ[organ_key(target.organ, target.is_node)].append(target.lesion_id)
    issues: list[ValidationIssue] = []
    for organ, ids in by_organ.items():
        if len(ids) <= MAX_TARGETS_PER_ORGAN:
            continue
        if organ == LYMPH_NODES:
            why = "all lymph nodes together count as one organ"
        else:
            why = "paired organs and both sides of an organ count as one organ"
        issues.append(
            ValidationIssue(
                IssueCode.TOO_MANY_TARGETS_IN_ORGAN,
                f"{len(ids)} target lesions in {organ} ({', '.join(ids)}): at most "
                f"{MAX_TARGETS_PER_ORGAN} per organ ({why})",
                lesion_id=ids[MAX_TARGETS_PER_ORGAN],
            )
        )
    return issues


def _measurability_issues(target: TargetLesion) -> list[ValidationIssue]:
    lesion = target.lesion_id
    if target.diameter_mm <= 0:
        return [
            ValidationIssue(
                IssueCode.BAD_VALUE,
                f"target {lesion}: baseline diameter must be greater than 0 mm, "
                f"got {format_mm(target.diameter_mm)}",
                lesion_id=lesion,
            )
        ]
    verdict = classify_target(target)
    if verdict.may_be_target:
        return []
    size = format_mm(target.diameter_mm)
    if target.is_node and verdict.measurability in (
        Measurability.PATHOLOGICAL_NODE,
        Measurability.NORMAL_NODE,
    ):
        return [
            ValidationIssue(
                IssueCode.NODAL_TARGET_TOO_SMALL,
                f"target {lesion}: a nodal target needs a short axis of at least 15 mm, "
                f"got {size} mm ({verdict.reason})",
                lesion_id=lesion,
            )
        ]
    if verdict.minimum_mm is not None and target.diameter_mm < verdict.minimum_mm:
        minimum = format_mm(verdict.minimum_mm)
        if (
            target.slice_thickness_mm is not None
            and verdict.minimum_mm == 2 * target.slice_thickness_mm
        ):
            rule = f"2 x the slice thickness of {format_mm(target.slice_thickness_mm)} mm"
        else:
            rule = f"{minimum} mm"
        return [
            ValidationIssue(
                IssueCode.TARGET_TOO_SMALL,
                f"target {lesion}: a non-nodal target needs a long axis of at least {rule} "
                f"({minimum} mm), got {size} mm",
                lesion_id=lesion,
            )
        ]
    return [
        ValidationIssue(
            IssueCode.TARGET_NOT_MEASURABLE,
            f"target {lesion} is not measurable: {verdict.reason}",
            lesion_id=lesion,
        )
    ]


def validate_followup(baseline: Baseline, followup: FollowUp, index: int) -> list[ValidationIssue]:
    """Check one follow-up against the baseline (§3): every baseline target and non-target is
    recorded, no unknown lesion is named, no value is negative, the date is after baseline."""
    label = followup_label(index, followup.weeks)
    issues: list[ValidationIssue] = []
    if followup.weeks <= 0:
        issues.append(
            ValidationIssue(
                IssueCode.BAD_VALUE,
                f"{label}: weeks must be after baseline (greater than 0)",
                followup_index=index,
            )
        )
    target_ids = [t.lesion_id for t in baseline.targets]
    non_target_ids = [n.lesion_id for n in baseline.non_targets]
    issues.extend(
        _recorded_lesion_issues(
            label,
            index,
            "target",
            target_ids,
            non_target_ids,
            list(followup.targets),
        )
    )
    issues.extend(
        _recorded_lesion_issues(
            label,
            index,
            "non-target",
            non_target_ids,
            target_ids,
            list(followup.non_targets),
        )
    )
    for lesion_id, value in followup.targets.items():
        if value is not None and not isinstance(value, TooSmall) and value < 0:
            issues.append(
                ValidationIssue(
                    IssueCode.BAD_VALUE,
                    f"{label}: target {lesion_id} has a negative diameter ({format_mm(value)} mm)",
                    lesion_id=lesion_id,
                    followup_index=index,
                )
            )
    return issues


def _recorded_lesion_issues(
    label: str,
    index: int,
    kind: str,
    expected: list[str],
    other_kind_ids: list[str],
    recorded: list[str],
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for lesion_id in expected:
        if lesion_id not in recorded:
            issues.append(
                ValidationIssue(
                    IssueCode.MISSING_LESION,
                    f"{label}: baseline {kind} {lesion_id} is not recorded "
                    f"(enter a value, or null / NOT_EVALUATED if it was not assessed)",
                    lesion_id=lesion_id,
                    followup_index=index,
                )
            )
    for lesion_id in recorded:
        if lesion_id in expected:
            continue
        other = "non-target" if kind == "target" else "target"
        detail = (
            f"{lesion_id} is a baseline {other}, not a {kind}"
            if lesion_id in other_kind_ids
            else f"{lesion_id} is not a baseline {kind}"
        )
        issues.append(
            ValidationIssue(
                IssueCode.UNKNOWN_LESION,
                f"{label}: unknown {kind} {lesion_id} ({detail}; new lesions are recorded as "
                f"new_lesions, and targets are never added after baseline)",
                lesion_id=lesion_id,
                followup_index=index,
            )
        )
    return issues


def validate_followup_order(followups: Sequence[FollowUp]) -> list[ValidationIssue]:
    """Follow-ups must be in chronological order, each strictly after the previous (§10.3)."""
    issues: list[ValidationIssue] = []
    for index in range(1, len(followups)):
        previous, current = followups[index - 1], followups[index]
        if current.weeks <= previous.weeks:
            issues.append(
                ValidationIssue(
                    IssueCode.FOLLOWUPS_OUT_OF_ORDER,
                    f"{followup_label(index, current.weeks)} is not after "
                    f"{followup_label(index - 1, previous.weeks)}: follow-ups must be in "
                    f"chronological order",
                    followup_index=index,
                )
            )
    return issues


def validate_participant(
    baseline: Baseline, followups: Sequence[FollowUp]
) -> list[ValidationIssue]:
    """Every issue with a baseline selection and its follow-ups; empty when all is well."""
    issues = validate_baseline(baseline)
    for index, followup in enumerate(followups):
        issues.extend(validate_followup(baseline, followup, index))
    issues.extend(validate_followup_order(followups))
    return issues
