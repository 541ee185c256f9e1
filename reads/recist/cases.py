"""Case files (recist-cases-format.md): evaluate them, compare with `expected`, and the CLI body
behind `manage.py recist FILE.json [--check]`."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

from .engine import assess_participant
from .model import (
    Baseline,
    FollowUp,
    ParticipantAssessment,
    RecistConfig,
    TimepointAssessment,
)
from .numbers import exact_decimal, json_number, json_percent
from .parsing import (
    bad_value_issue,
    parse_baseline,
    parse_followup,
    parse_protocol,
    show_raw,
)
from .validation import RecistValidationError, ValidationIssue, validate_participant

EXIT_OK = 0
EXIT_FAILED = 1  # a malformed case, or (with --check) a difference from `expected`
EXIT_UNREADABLE = 2  # the file itself could not be read as a list of cases


@dataclass(frozen=True)
class CaseError:
    """Why one case could not be evaluated: its id (or position) and every issue found."""

    case_id: str | None
    case_index: int
    issues: tuple[ValidationIssue, ...]

    @property
    def label(self) -> str:
        return self.case_id if self.case_id is not None else f"case #{self.case_index + 1}"

    @property
    def messages(self) -> list[str]:
        return [issue.message for issue in self.issues]


def _case_id(case: object) -> str | None:
    if isinstance(case, Mapping) and isinstance(case.get("id"), str):
        return case["id"]
    return None


def _json_mm(value: Decimal | None) -> int | float | None:
    return None if value is None else json_number(value)


def timepoint_to_dict(tp: TimepointAssessment) -> dict[str, Any]:
    """One `per_followup` entry of the output format."""
    return {
        "sum_mm": _json_mm(tp.sum_mm),
        "nadir_mm": _json_mm(tp.nadir_mm),
        "pct_change_from_baseline": json_percent(tp.pct_change_from_baseline),
        "pct_change_from_nadir": json_percent(tp.pct_change_from_nadir),
        "target_response": tp.target_response.value,
        "non_target_response": tp.non_target_response.value,
        "overall_response": tp.overall_response.value,
    }


def assessment_to_dict(case_id: str | None, assessment: ParticipantAssessment) -> dict[str, Any]:
    """One result of the output format, from the engine's assessment."""
    return {
        "id": case_id,
        "baseline_sum_mm": _json_mm(assessment.baseline_sum_mm),
        "per_followup": [timepoint_to_dict(tp) for tp in assessment.timepoints],
        "best_overall_response_unconfirmed": assessment.best_overall_response_unconfirmed.value,
        "best_overall_response_confirmed": assessment.best_overall_response_confirmed.value,
        "date_of_progression_weeks": _json_mm(assessment.progression_weeks),
    }


@dataclass(frozen=True)
class ParsedCase:
    """One case file entry read into engine objects."""

    case_id: str | None
    baseline: Baseline
    followups: tuple[FollowUp, ...]
    config: RecistConfig
    warnings: tuple[str, ...] = ()


def parse_case(case: object) -> ParsedCase:
    """Read and validate one case (format of recist-cases-format.md).

    Raises RecistValidationError listing every bad value and every broken rule.
    """
    if not isinstance(case, Mapping):
        raise RecistValidationError(
            [bad_value_issue(f"a case must be an object, got {show_raw(case)}")]
        )
    case_id = _case_id(case)
    issues: list[ValidationIssue] = []
    if "id" in case and case_id is None:
        issues.append(bad_value_issue(f"id must be a string, got {show_raw(case['id'])}"))
    raw_protocol = case.get("protocol")
    protocol = parse_protocol(raw_protocol)
    issues.extend(protocol.issues)
    protocol_slice_thickness = (
        raw_protocol.get("slice_thickness_mm") if isinstance(raw_protocol, Mapping) else None
    )
    baseline, baseline_issues = parse_baseline(case.get("baseline"), protocol_slice_thickness)
    issues.extend(baseline_issues)
    raw_followups = case.get("followups", [])
    if not isinstance(raw_followups, list):
        issues.append(bad_value_issue(f"followups must be a list, got {show_raw(raw_followups)}"))
        raw_followups = []
    followups: list[FollowUp] = []
    all_followups_read = True
    for i, raw in enumerate(raw_followups):
        followup, followup_issues = parse_followup(raw, i)
        issues.extend(followup_issues)
        if followup is None:
            all_followups_read = False
        else:
            followups.append(followup)
    if baseline is not None and all_followups_read:
        issues.extend(validate_participant(baseline, followups))
    if issues or baseline is None:
        raise RecistValidationError(issues)
    return ParsedCase(
        case_id, baseline, tuple(followups), protocol.config, tuple(protocol.warnings)
    )


def evaluate_case(
    case: object, index: int = 0
) -> tuple[dict[str, Any] | None, CaseError | None, list[str]]:
    """Evaluate one case: (result, None, warnings), or (None, error, warnings) when malformed."""
    try:
        parsed = parse_case(case)
    except RecistValidationError as error:
        warnings = []
        if isinstance(case, Mapping):
            warnings = parse_protocol(case.get("protocol")).warnings
        return None, CaseError(_case_id(case), index, error.issues), warnings
    assessment = assess_participant(
        parsed.baseline, parsed.followups, parsed.config, validate=False
    )
    return assessment_to_dict(parsed.case_id, assessment), None, list(parsed.warnings)


def evaluate_cases(cases: Sequence[object]) -> tuple[list[dict[str, Any]], list[CaseError]]:
    """Evaluate every case. Results keep the input order, one per case; a malformed case gets
    `{"id": ..., "errors": [...]}` in its place and a CaseError in the second list."""
    results: list[dict[str, Any]] = []
    errors: list[CaseError] = []
    for index, case in enumerate(cases):
        result, error, _warnings = evaluate_case(case, index)
        if error is not None:
            errors.append(error)
            results.append({"id": error.case_id, "errors": error.messages})
        else:
            assert result is not None
            results.append(result)
    return results, errors


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _same(expected: object, actual: object) -> bool:
    if _is_number(expected) and _is_number(actual):
        try:
            return exact_decimal(expected) == exact_decimal(actual)
        except ValueError:
            return False
    if _is_number(expected) or _is_number(actual):
        return False
    return expected == actual and type(expected) is type(actual)


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return str(json_number(value))
    return json.dumps(value, default=str)


def compare_with_expected(
    result: Mapping[str, Any], expected: Mapping[str, Any], path: str = ""
) -> list[str]:
    """Every field of `expected` that `result` does not match, as "path: expected X, got Y".
    Numbers compare by value (70 equals 70.0); fields absent from `expected` are not checked."""
    differences: list[str] = []
    for key, want in expected.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in result:
            differences.append(f"{where}: expected {_show(want)}, got nothing")
            continue
        differences.extend(_compare_value(want, result[key], where))
    return differences


def _compare_value(want: object, got: object, where: str) -> list[str]:
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        return compare_with_expected(got, want, where)
    if isinstance(want, list) and isinstance(got, list):
        differences = []
        if len(want) != len(got):
            differences.append(f"{where}: expected {len(want)} entries, got {len(got)}")
        for i, (w, g) in enumerate(zip(want, got, strict=False)):  # a length difference is reported above
            differences.extend(_compare_value(w, g, f"{where}[{i}]"))
        return differences
    if _same(want, got):
        return []
    return [f"{where}: expected {_show(want)}, got {_show(got)}"]


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return json_number(value)
    raise TypeError(f"not JSON serialisable: {show_raw(value)}")


def load_cases(path: str) -> list[Any]:
    """Read a case file; numbers are parsed as exact Decimals. Raises ValueError when the file
    is not a JSON list of cases (or an object with a "cases" list)."""
    try:
        if path == "-":
            data = json.load(sys.stdin, parse_float=Decimal)
        else:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle, parse_float=Decimal)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if isinstance(data, Mapping) and isinstance(data.get("cases"), list):
        data = data["cases"]
    if not isinstance(data, list):
        raise ValueError(f"{path} must hold a JSON list of cases")
    return data


def run_cli(path: str, check: bool, stdout: TextIO, stderr: TextIO) -> int:
    """`manage.py recist FILE.json [--check]`: print the results of every case as JSON on
    stdout; report malformed cases (id and reason) on stderr; with `check`, print every
    difference from each case's `expected` on stderr.

    Returns 0 when all is well, 1 when a case is malformed or (with check) differs, 2 when the
    file cannot be read.
    """
    try:
        cases = load_cases(path)
    except ValueError as unreadable:
        stderr.write(f"error: {unreadable}\n")
        return EXIT_UNREADABLE
    results: list[dict[str, Any]] = []
    failed = False
    differing = 0
    for index, case in enumerate(cases):
        result, error, warnings = evaluate_case(case, index)
        label = _case_id(case) or f"case #{index + 1}"
        stderr.writelines(f"{label}: warning: {warning}\n" for warning in warnings)
        if error is not None:
            failed = True
            results.append({"id": error.case_id, "errors": error.messages})
            stderr.writelines(
                f"{error.label}: malformed case: {message}\n" for message in error.messages
            )
            continue
        assert result is not None
        results.append(result)
        if not check:
            continue
        expected = case.get("expected") if isinstance(case, Mapping) else None
        if not isinstance(expected, Mapping):
            stderr.write(f"{label}: no expected block, nothing to check\n")
            continue
        differences = compare_with_expected(result, expected)
        if differences:
            failed = True
            differing += 1
            stderr.writelines(f"{label}: {difference}\n" for difference in differences)
    stdout.write(json.dumps(results, indent=2, default=_json_default) + "\n")
    if check:
        malformed = sum(1 for r in results if "errors" in r)
        stderr.write(
            f"checked {len(results)} cases: {differing} differ from expected, {malformed} malformed\n"
        )
    return EXIT_FAILED if failed else EXIT_OK
