"""Validation of follow-up entries and of case-file values: every message names what is wrong."""

import copy
from decimal import Decimal as D

import pytest

from reads.recist import (
    Baseline,
    FollowUp,
    IssueCode,
    NewLesions,
    NonTargetLesion,
    NonTargetStatus,
    RecistConfig,
    RecistValidationError,
    TargetLesion,
    assess_participant,
    parse_case,
    validate_participant,
)

BASELINE = Baseline(
    (TargetLesion("T1", "liver", False, D(40)), TargetLesion("T2", "lung", False, D(30))),
    (NonTargetLesion("NT1", "bone"),),
)


def at(weeks, targets=None, non_targets=None, new="NO"):
    return FollowUp(
        D(str(weeks)),
        {"T1": D(30), "T2": D(20)} if targets is None else targets,
        {"NT1": NonTargetStatus.PRESENT} if non_targets is None else non_targets,
        NewLesions(new),
    )


def codes(issues):
    return [issue.code for issue in issues]


def test_complete_follow_ups_are_valid():
    assert validate_participant(BASELINE, [at(8), at(16)]) == []


def test_follow_up_that_omits_a_target_is_rejected():
    issues = validate_participant(BASELINE, [at(8, targets={"T1": D(30)})])
    assert codes(issues) == [IssueCode.MISSING_LESION]
    assert issues[0].lesion_id == "T2" and issues[0].followup_index == 0
    assert issues[0].message.startswith("follow-up 1 (week 8): baseline target T2 is not recorded")


def test_follow_up_that_omits_a_non_target_is_rejected():
    issues = validate_participant(BASELINE, [at(8, non_targets={})])
    assert codes(issues) == [IssueCode.MISSING_LESION]
    assert "baseline non-target NT1" in issues[0].message


def test_follow_up_that_invents_a_lesion_is_rejected():
    targets = {"T1": D(30), "T2": D(20), "T3": D(10)}
    issues = validate_participant(BASELINE, [at(8, targets=targets)])
    assert codes(issues) == [IssueCode.UNKNOWN_LESION]
    assert "unknown target T3" in issues[0].message


def test_non_target_recorded_as_a_target_is_named_as_such():
    targets = {"T1": D(30), "T2": D(20), "NT1": D(10)}
    issues = validate_participant(BASELINE, [at(8, targets=targets)])
    assert "NT1 is a baseline non-target, not a target" in issues[0].message


@pytest.mark.parametrize("second_weeks", [8, 7])
def test_follow_ups_must_be_in_chronological_order(second_weeks):
    issues = validate_participant(BASELINE, [at(8), at(second_weeks)])
    assert codes(issues) == [IssueCode.FOLLOWUPS_OUT_OF_ORDER]
    assert issues[0].followup_index == 1
    assert (
        f"follow-up 2 (week {second_weeks}) is not after follow-up 1 (week 8)" in issues[0].message
    )


def test_follow_up_must_be_after_baseline():
    assert codes(validate_participant(BASELINE, [at(0)])) == [IssueCode.BAD_VALUE]


def test_negative_diameter_is_rejected():
    issues = validate_participant(BASELINE, [at(8, targets={"T1": D(-1), "T2": D(20)})])
    assert codes(issues) == [IssueCode.BAD_VALUE] and issues[0].lesion_id == "T1"


def test_engine_refuses_invalid_input_with_every_issue():
    with pytest.raises(RecistValidationError) as error:
        assess_participant(BASELINE, [at(8, targets={"T1": D(30)}), at(4)], RecistConfig())
    assert codes(error.value.issues) == [IssueCode.MISSING_LESION, IssueCode.FOLLOWUPS_OUT_OF_ORDER]


# --- case-file values --------------------------------------------------------------------------

CASE = {
    "id": "C1",
    "baseline": {
        "targets": [{"lesion_id": "T1", "organ": "liver", "is_node": False, "diameter_mm": 40}],
        "non_targets": [{"lesion_id": "NT1", "organ": "bone", "is_node": False}],
    },
    "followups": [
        {"weeks": 8, "targets": {"T1": 30}, "non_targets": {"NT1": "PRESENT"}, "new_lesions": "NO"},
    ],
}


def broken(path, value):
    case = copy.deepcopy(CASE)
    *parents, last = path
    node = case
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return case


def messages_of(case):
    with pytest.raises(RecistValidationError) as error:
        parse_case(case)
    return [issue.message for issue in error.value.issues]


def test_a_well_formed_case_parses():
    parsed = parse_case(CASE)
    assert parsed.case_id == "C1" and parsed.config == RecistConfig()
    assert parsed.baseline.targets[0].diameter_mm == 40


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (
            ("followups", 0, "targets", "T1"),
            "abc",
            'target T1 must be a number of mm, "TOO_SMALL" or null',
        ),
        (("followups", 0, "targets", "T1"), True, "target T1 must be a number"),
        (("followups", 0, "targets", "T1"), -2, "target T1 must not be negative"),
        (("followups", 0, "non_targets", "NT1"), "GONE", "non-target NT1 must be one of PRESENT"),
        (("followups", 0, "new_lesions"), "MAYBE", "new_lesions must be one of NO, YES, EQUIVOCAL"),
        (("followups", 0, "new_lesions"), KeyError, "new_lesions must be one of"),
        (("followups", 0, "weeks"), "eight", "weeks must be a number"),
        (
            ("baseline", "targets", 0, "diameter_mm"),
            0,
            "diameter_mm must be a number of mm greater than 0",
        ),
        (("baseline", "targets", 0, "diameter_mm"), None, "diameter_mm must be a number"),
        (("baseline", "targets", 0, "organ"), "", "organ must be a non-empty string"),
        (("baseline", "targets", 0, "is_node"), "yes", "is_node must be true or false"),
        (("baseline", "targets", 0, "lesion_id"), 7, "lesion_id must be a non-empty string"),
        (("baseline", "targets"), {}, "baseline.targets must be a list"),
        (("followups",), {}, "followups must be a list"),
    ],
)
def test_bad_values_are_named(path, value, fragment):
    messages = messages_of(broken(path, value))
    assert any(fragment in m for m in messages), messages


def test_diameters_in_the_case_file_are_read_exactly():
    parsed = parse_case(broken(("baseline", "targets", 0, "diameter_mm"), 12.3))
    assert parsed.baseline.targets[0].diameter_mm == D("12.3")


def test_lower_case_tokens_are_accepted():
    case = broken(("followups", 0, "non_targets", "NT1"), "present")
    case["followups"][0]["targets"]["T1"] = "too_small"
    parsed = parse_case(case)
    assert parsed.followups[0].non_targets["NT1"] is NonTargetStatus.PRESENT


def test_protocol_maps_onto_the_configuration():
    case = copy.deepcopy(CASE)
    case["protocol"] = {
        "sd_min_weeks": 8,
        "confirmation_min_weeks": 6,
        "visit_window_weeks": 0.5,
        "intervening_ne_allowed": False,
        "intervening_sd_allowed": True,
        "cr_check_before_pd": False,
        "sd_min_applies_to_non_cr_non_pd": False,
        "too_small_mm": 4,
        "confirmation_required": True,
        "adjudication_triggers": ["A", "TIMEPOINT_RESPONSE"],
        "global_rereview": True,
    }
    config = parse_case(case).config
    assert config.sd_min_weeks == 8 and config.confirmation_min_weeks == 6
    assert config.visit_window_weeks == D("0.5") and config.too_small_mm == 4
    assert not config.intervening_ne_allowed and config.intervening_sd_allowed
    assert not config.cr_check_before_pd and not config.sd_min_applies_to_non_cr_non_pd
    assert config.confirmation_required and config.global_rereview
    assert {t.value for t in config.adjudication_triggers} == {
        "BEST_OVERALL_RESPONSE",
        "TIMEPOINT_RESPONSE",
    }


def test_protocol_in_days_is_converted_to_weeks():
    case = copy.deepcopy(CASE)
    case["protocol"] = {"sd_min_days": 42, "confirmation_min_days": 28}
    config = parse_case(case).config
    assert config.sd_min_weeks == 6 and config.confirmation_min_weeks == 4


def test_unknown_protocol_keys_are_warnings_not_errors():
    case = copy.deepcopy(CASE)
    case["protocol"] = {"sd_min_weeks": 6, "colour": "blue"}
    assert parse_case(case).warnings == ("protocol.colour is not a known setting and was ignored",)


@pytest.mark.parametrize(
    ("key", "value"),
    [("sd_min_weeks", "six"), ("sd_min_weeks", -1), ("intervening_ne_allowed", "yes")],
)
def test_bad_protocol_values_are_errors(key, value):
    case = copy.deepcopy(CASE)
    case["protocol"] = {key: value}
    assert any(f"protocol.{key}" in m for m in messages_of(case))


def test_slice_thickness_can_be_given_per_target_baseline_or_protocol():
    case = broken(("baseline", "targets", 0, "diameter_mm"), 13)
    case["baseline"]["slice_thickness_mm"] = 7
    assert any("slice thickness of 7 mm" in m for m in messages_of(case))
    case = broken(("baseline", "targets", 0, "diameter_mm"), 13)
    case["protocol"] = {"slice_thickness_mm": 7}
    assert any("slice thickness of 7 mm" in m for m in messages_of(case))
    case["baseline"]["targets"][0]["slice_thickness_mm"] = 5
    assert parse_case(case).baseline.targets[0].slice_thickness_mm == 5
