"""Reading case-file JSON (recist-cases-format.md) into engine objects, naming every bad value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from .model import (
    TOO_SMALL,
    AdjudicationTrigger,
    Baseline,
    FollowUp,
    LesionKind,
    MeasurementMethod,
    NewLesions,
    NonTargetLesion,
    NonTargetStatus,
    RecistConfig,
    TargetLesion,
    TargetValue,
)
from .numbers import exact_decimal
from .validation import IssueCode, ValidationIssue, followup_label

_DAYS_PER_WEEK = Decimal(7)

# Protocol keys (and the spellings we accept for them) -> RecistConfig field.
_WEEK_KEYS: dict[str, str] = {
    "confirmation_min_weeks": "confirmation_min_weeks",
    "min_confirmation_weeks": "confirmation_min_weeks",
    "confirmation_interval_weeks": "confirmation_min_weeks",
    "confirmation_weeks": "confirmation_min_weeks",
    "sd_min_weeks": "sd_min_weeks",
    "sd_minimum_weeks": "sd_min_weeks",
    "min_sd_weeks": "sd_min_weeks",
    "sd_min_duration_weeks": "sd_min_weeks",
    "visit_window_weeks": "visit_window_weeks",
    "visit_window_tolerance_weeks": "visit_window_weeks",
}
_DAY_KEYS: dict[str, str] = {
    "confirmation_min_days": "confirmation_min_weeks",
    "sd_min_days": "sd_min_weeks",
    "visit_window_days": "visit_window_weeks",
}
_MM_KEYS: dict[str, str] = {"too_small_mm": "too_small_mm", "too_small_value_mm": "too_small_mm"}
_BOOL_KEYS: dict[str, str] = {
    "confirmation_required": "confirmation_required",
    "intervening_ne_allowed": "intervening_ne_allowed",
    "allow_intervening_ne": "intervening_ne_allowed",
    "intervening_sd_allowed": "intervening_sd_allowed",
    "allow_intervening_sd": "intervening_sd_allowed",
    "cr_check_before_pd": "cr_check_before_pd",
    "cr_before_pd": "cr_check_before_pd",
    "sd_min_applies_to_non_cr_non_pd": "sd_min_applies_to_non_cr_non_pd",
    "global_rereview": "global_rereview",
}
_TRIGGER_LETTERS = {
    "A": AdjudicationTrigger.BEST_OVERALL_RESPONSE,
    "B": AdjudicationTrigger.PROGRESSION,
    "C": AdjudicationTrigger.FIRST_RESPONSE,
    "D": AdjudicationTrigger.TIMEPOINT_RESPONSE,
}


def show_raw(value: object) -> str:
    """A value as the case file spelled it, for messages (Decimals without their repr)."""
    if isinstance(value, Decimal):
        return str(value)
    try:
        return json.dumps(value, default=str)
    except ValueError:
        return repr(value)


def bad_value_issue(
    message: str, *, lesion_id: str | None = None, followup_index: int | None = None
) -> ValidationIssue:
    return ValidationIssue(
        IssueCode.BAD_VALUE, message, lesion_id=lesion_id, followup_index=followup_index
    )


def _token(raw: object) -> str:
    """A string value stripped and upper-cased; "" for anything else (no choice is empty, so it matches none)."""
    return raw.strip().upper() if isinstance(raw, str) else ""


def parse_target_value(raw: object) -> TargetValue:
    """A follow-up target entry: a number of mm >= 0, "TOO_SMALL", or null (§3).
    Raises ValueError with the reason."""
    if raw is None:
        return None
    if _token(raw) == TOO_SMALL.value:
        return TOO_SMALL
    try:
        value = exact_decimal(raw)
    except ValueError:
        raise ValueError(
            f'must be a number of mm, "TOO_SMALL" or null, got {show_raw(raw)}'
        ) from None
    if value < 0:
        raise ValueError(f"must not be negative, got {show_raw(raw)}")
    return value


def parse_non_target_status(raw: object) -> NonTargetStatus:
    """PRESENT, ABSENT, UNEQUIVOCAL_PD or NOT_EVALUATED. Raises ValueError."""
    try:
        return NonTargetStatus(_token(raw))
    except ValueError:
        allowed = ", ".join(s.value for s in NonTargetStatus)
        raise ValueError(f"must be one of {allowed}, got {show_raw(raw)}") from None


def parse_new_lesions(raw: object) -> NewLesions:
    """NO, YES or EQUIVOCAL. Raises ValueError."""
    try:
        return NewLesions(_token(raw))
    except ValueError:
        allowed = ", ".join(s.value for s in NewLesions)
        raise ValueError(f"must be one of {allowed}, got {show_raw(raw)}") from None


@dataclass
class ParsedProtocol:
    config: RecistConfig
    issues: list[ValidationIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_protocol(raw: object) -> ParsedProtocol:
    """The optional `protocol` object -> RecistConfig; absent keys keep the §11 defaults.
    Unknown keys are warnings (ignored), bad values are issues."""
    parsed = ParsedProtocol(RecistConfig())
    if raw is None:
        return parsed
    if not isinstance(raw, Mapping):
        parsed.issues.append(bad_value_issue(f"protocol must be an object, got {show_raw(raw)}"))
        return parsed
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _WEEK_KEYS or key in _DAY_KEYS or key in _MM_KEYS:
            try:
                number = exact_decimal(value)
            except ValueError:
                parsed.issues.append(
                    bad_value_issue(f"protocol.{key} must be a number, got {show_raw(value)}")
                )
                continue
            if number < 0:
                parsed.issues.append(
                    bad_value_issue(f"protocol.{key} must not be negative, got {show_raw(value)}")
                )
                continue
            if key in _DAY_KEYS:
                changes[_DAY_KEYS[key]] = number / _DAYS_PER_WEEK
            else:
                changes[_WEEK_KEYS.get(key) or _MM_KEYS[key]] = number
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                parsed.issues.append(
                    bad_value_issue(f"protocol.{key} must be true or false, got {show_raw(value)}")
                )
                continue
            changes[_BOOL_KEYS[key]] = value
        elif key == "slice_thickness_mm":
            continue  # a default for the baseline targets, read by parse_baseline
        elif key == "adjudication_triggers":
            triggers = _parse_triggers(value)
            if triggers is None:
                parsed.issues.append(
                    bad_value_issue(
                        f"protocol.adjudication_triggers must be a list of "
                        f"{', '.join(t.value for t in AdjudicationTrigger)} (or A-D), got {show_raw(value)}"
                    )
                )
                continue
            changes["adjudication_triggers"] = triggers
        else:
            parsed.warnings.append(f"protocol.{key} is not a known setting and was ignored")
    parsed.config = replace(parsed.config, **changes)
    return parsed


def _parse_triggers(raw: object) -> frozenset[AdjudicationTrigger] | None:
    if not isinstance(raw, list):
        return None
    triggers: set[AdjudicationTrigger] = set()
    for item in raw:
        token = _token(item)
        if token in _TRIGGER_LETTERS:
            triggers.add(_TRIGGER_LETTERS[token])
        elif token in AdjudicationTrigger.__members__:
            triggers.add(AdjudicationTrigger[token])
        else:
            return None
    return frozenset(triggers)


def _lesion_id(raw: Mapping[str, Any], where: str, issues: list[ValidationIssue]) -> str | None:
    lesion_id = raw.get("lesion_id")
    if not isinstance(lesion_id, str) or not lesion_id.strip():
        issues.append(
            bad_value_issue(
                f"{where}: lesion_id must be a non-empty string, got {show_raw(lesion_id)}"
            )
        )
        return None
    return lesion_id


def _optional_bool(
    raw: Mapping[str, Any], key: str, where: str, issues: list[ValidationIssue]
) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        issues.append(
            bad_value_issue(f"{where}: {key} must be true or false, got {show_raw(value)}")
        )
        return False
    return value


def _parse_target(
    raw: object,
    index: int,
    issues: list[ValidationIssue],
    default_slice_thickness: object = None,
) -> TargetLesion | None:
    where = f"baseline target {index + 1}"
    if not isinstance(raw, Mapping):
        issues.append(bad_value_issue(f"{where} must be an object, got {show_raw(raw)}"))
        return None
    lesion_id = _lesion_id(raw, where, issues)
    if lesion_id is None:
        return None
    where = f"baseline target {lesion_id}"
    before = len(issues)
    organ = raw.get("organ")
    if not isinstance(organ, str) or not organ.strip():
        issues.append(
            bad_value_issue(
                f"{where}: organ must be a non-empty string, got {show_raw(organ)}",
                lesion_id=lesion_id,
            )
        )
    is_node = _optional_bool(raw, "is_node", where, issues)
    diameter: Decimal | None = None
    try:
        diameter = exact_decimal(raw.get("diameter_mm"))
        if diameter <= 0:
            raise ValueError
    except ValueError:
        issues.append(
            bad_value_issue(
                f"{where}: diameter_mm must be a number of mm greater than 0, got {show_raw(raw.get('diameter_mm'))}",
                lesion_id=lesion_id,
            )
        )
    slice_thickness: Decimal | None = None
    raw_slice_thickness = raw.get("slice_thickness_mm", default_slice_thickness)
    if raw_slice_thickness is not None:
        try:
            slice_thickness = exact_decimal(raw_slice_thickness)
            if slice_thickness <= 0:
                raise ValueError
        except ValueError:
            issues.append(
                bad_value_issue(
                    f"{where}: slice_thickness_mm must be a number greater than 0, "
                    f"got {show_raw(raw_slice_thickness)}",
                    lesion_id=lesion_id,
                )
            )
    method_key = "method" if "method" in raw or "modality" not in raw else "modality"
    method = _parse_choice(
        raw, method_key, MeasurementMethod, MeasurementMethod.CT, where, issues, lesion_id
    )
    kind = _parse_choice(raw, "kind", LesionKind, LesionKind.SOLID, where, issues, lesion_id)
    if len(issues) > before or diameter is None:
        return None
    return TargetLesion(
        lesion_id=lesion_id,
        organ=str(organ),
        is_node=is_node,
        diameter_mm=diameter,
        slice_thickness_mm=slice_thickness,
        method=method,
        kind=kind,
    )


def _parse_choice(
    raw: Mapping[str, Any],
    key: str,
    choices: Any,
    default: Any,
    where: str,
    issues: list[ValidationIssue],
    lesion_id: str,
) -> Any:
    value = raw.get(key)
    if value is None:
        return default
    try:
        return choices(_token(value))
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        issues.append(
            bad_value_issue(
                f"{where}: {key} must be one of {allowed}, got {show_raw(value)}",
                lesion_id=lesion_id,
            )
        )
        return default


def _parse_non_target(
    raw: object, index: int, issues: list[ValidationIssue]
) -> NonTargetLesion | None:
    where = f"baseline non-target {index + 1}"
    if not isinstance(raw, Mapping):
        issues.append(bad_value_issue(f"{where} must be an object, got {show_raw(raw)}"))
        return None
    lesion_id = _lesion_id(raw, where, issues)
    if lesion_id is None:
        return None
    where = f"baseline non-target {lesion_id}"
    organ = raw.get("organ", "")
    if not isinstance(organ, str):
        issues.append(
            bad_value_issue(
                f"{where}: organ must be a string, got {show_raw(organ)}", lesion_id=lesion_id
            )
        )
        return None
    is_node = _optional_bool(raw, "is_node", where, issues)
    return NonTargetLesion(lesion_id=lesion_id, organ=organ, is_node=is_node)


def parse_baseline(
    raw: object,
    default_slice_thickness: object = None,
) -> tuple[Baseline | None, list[ValidationIssue]]:
    """The `baseline` object -> Baseline; None when any part of it could not be read.

    A target's `slice_thickness_mm` defaults to the baseline's, then to `default_slice_thickness`
    (the protocol's); `method` (or `modality`) and `kind` are optional (§1 table).
    """
    issues: list[ValidationIssue] = []
    if not isinstance(raw, Mapping):
        return None, [bad_value_issue(f"baseline must be an object, got {show_raw(raw)}")]
    raw_targets = raw.get("targets", [])
    raw_non_targets = raw.get("non_targets", [])
    for key, value in (("targets", raw_targets), ("non_targets", raw_non_targets)):
        if not isinstance(value, list):
            issues.append(bad_value_issue(f"baseline.{key} must be a list, got {show_raw(value)}"))
    if issues:
        return None, issues
    slice_thickness = raw.get("slice_thickness_mm", default_slice_thickness)
    targets = [_parse_target(t, i, issues, slice_thickness) for i, t in enumerate(raw_targets)]
    non_targets = [_parse_non_target(n, i, issues) for i, n in enumerate(raw_non_targets)]
    if issues:
        return None, issues
    return Baseline(
        targets=tuple(t for t in targets if t is not None),
        non_targets=tuple(n for n in non_targets if n is not None),
    ), issues


def parse_followup(raw: object, index: int) -> tuple[FollowUp | None, list[ValidationIssue]]:
    """One entry of `followups` -> FollowUp; None when any value could not be read."""
    label = followup_label(index, None)
    if not isinstance(raw, Mapping):
        return None, [
            bad_value_issue(f"{label} must be an object, got {show_raw(raw)}", followup_index=index)
        ]
    issues: list[ValidationIssue] = []
    weeks: Decimal | None = None
    try:
        weeks = exact_decimal(raw.get("weeks"))
        label = followup_label(index, weeks)
    except ValueError:
        issues.append(
            bad_value_issue(
                f"{label}: weeks must be a number, got {show_raw(raw.get('weeks'))}",
                followup_index=index,
            )
        )
    raw_targets = raw.get("targets", {})
    raw_non_targets = raw.get("non_targets", {})
    targets: dict[str, TargetValue] = {}
    non_targets: dict[str, NonTargetStatus] = {}
    if not isinstance(raw_targets, Mapping):
        issues.append(
            bad_value_issue(
                f"{label}: targets must be an object, got {show_raw(raw_targets)}",
                followup_index=index,
            )
        )
    else:
        for lesion_id, value in raw_targets.items():
            try:
                targets[lesion_id] = parse_target_value(value)
            except ValueError as error:
                issues.append(
                    bad_value_issue(
                        f"{label}: target {lesion_id} {error}",
                        lesion_id=lesion_id,
                        followup_index=index,
                    )
                )
    if not isinstance(raw_non_targets, Mapping):
        issues.append(
            bad_value_issue(
                f"{label}: non_targets must be an object, got {show_raw(raw_non_targets)}",
                followup_index=index,
            )
        )
    else:
        for lesion_id, value in raw_non_targets.items():
            try:
                non_targets[lesion_id] = parse_non_target_status(value)
            except ValueError as error:
                issues.append(
                    bad_value_issue(
                        f"{label}: non-target {lesion_id} {error}",
                        lesion_id=lesion_id,
                        followup_index=index,
                    )
                )
    new_lesions = NewLesions.NO
    try:
        new_lesions = parse_new_lesions(raw.get("new_lesions"))
    except ValueError as error:
        issues.append(bad_value_issue(f"{label}: new_lesions {error}", followup_index=index))
    if issues or weeks is None:
        return None, issues
    return FollowUp(
        weeks=weeks, targets=targets, non_targets=non_targets, new_lesions=new_lesions
    ), issues
