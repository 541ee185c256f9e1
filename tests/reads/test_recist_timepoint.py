"""Timepoint rules: sums and nadir (§3, §4.1), target response (§4.2), non-target response (§5),
overall response Tables 1 and 2 (§7)."""

from decimal import Decimal as D
from fractions import Fraction

import pytest

from reads.recist import (
    TOO_SMALL,
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetLesion,
    NonTargetResponse,
    NonTargetStatus,
    OverallResponse,
    RecistConfig,
    TargetLesion,
    TargetResponse,
    assess_participant,
)
from reads.recist.responses import (
    meets_pd_threshold,
    meets_pr_threshold,
    nadir,
    non_target_response,
    overall_response_non_target_only,
    overall_response_with_targets,
    target_response,
)

CR, PR, SD, PD, NE, NA = "CR", "PR", "SD", "PD", "NE", "NA"


def mm(value):
    if value is None or value is TOO_SMALL:
        return value
    return D(str(value))


def baseline_of(*targets, non_targets=()):
    """targets: (id, mm, is_node) tuples, each in its own organ."""
    return Baseline(
        tuple(TargetLesion(i, f"organ {i}", node, mm(size)) for i, size, node in targets),
        tuple(NonTargetLesion(n, "bone") for n in non_targets),
    )


def at(weeks, targets, non_targets=None, new="NO"):
    return FollowUp(
        D(str(weeks)),
        {k: mm(v) for k, v in targets.items()},
        {k: NonTargetStatus(v) for k, v in (non_targets or {}).items()},
        NewLesions(new),
    )


def responses(baseline, *followups, config=None):
    assessment = assess_participant(baseline, list(followups), config)
    return [tp.target_response.value for tp in assessment.timepoints], assessment


# --- §3 sums -----------------------------------------------------------------------------------


def test_baseline_sum_adds_long_axes_and_node_short_axes():
    _, a = responses(baseline_of(("T1", 25, False), ("N1", 20, True)), at(8, {"T1": 20, "N1": 18}))
    assert a.baseline_sum_mm == 45
    assert a.timepoints[0].sum_mm == 38


def test_too_small_counts_5_mm_for_lesions_and_nodes():
    _, a = responses(
        baseline_of(("T1", 25, False), ("N1", 20, True)), at(8, {"T1": TOO_SMALL, "N1": TOO_SMALL})
    )
    assert a.timepoints[0].sum_mm == 10


def test_too_small_value_is_configurable():
    _, a = responses(
        baseline_of(("T1", 25, False)),
        at(8, {"T1": TOO_SMALL}),
        config=RecistConfig(too_small_mm=D(3)),
    )
    assert a.timepoints[0].sum_mm == 3


def test_measured_values_below_5_mm_are_kept():
    _, a = responses(
        baseline_of(("T1", 25, False), ("T2", 20, False)), at(8, {"T1": 3, "T2": "0.5"})
    )
    assert a.timepoints[0].sum_mm == D("3.5")


def test_sum_is_null_when_any_target_is_missing():
    _, a = responses(
        baseline_of(("T1", 25, False), ("T2", 20, False)), at(8, {"T1": 3, "T2": None})
    )
    tp = a.timepoints[0]
    assert tp.sum_mm is None and tp.measured_sum_mm == 3 and tp.missing_targets == ("T2",)
    assert tp.pct_change_from_baseline is None and tp.pct_change_from_nadir is None


# --- §4.1 nadir ----------------------------------------------------------------------------------


def test_nadir_is_the_smallest_complete_earlier_sum_including_baseline():
    assert nadir(D(70), []) == 70
    assert nadir(D(70), [D(50), None, D(60)]) == 50
    assert nadir(D(70), [D(80)]) == 70


def test_nadir_excludes_the_current_timepoint_and_skips_null_sums():
    _, a = responses(
        baseline_of(("T1", 40, False), ("T2", 30, False)),
        at(8, {"T1": 30, "T2": 20}),
        at(16, {"T1": 10, "T2": None}),
        at(24, {"T1": 28, "T2": 20}),
    )
    assert [tp.nadir_mm for tp in a.timepoints] == [70, 50, 50]


def test_complete_sum_with_a_non_target_not_evaluated_still_updates_the_nadir():
    _, a = responses(
        baseline_of(("T1", 40, False), non_targets=("NT1",)),
        at(8, {"T1": 30}, {"NT1": "NOT_EVALUATED"}),
        at(16, {"T1": 31}, {"NT1": "PRESENT"}),
    )
    assert a.timepoints[1].nadir_mm == 30


def test_percentage_from_nadir_is_null_when_the_nadir_is_zero():
    _, a = responses(baseline_of(("T1", 40, False)), at(8, {"T1": 0}), at(16, {"T1": 0}))
    assert a.timepoints[1].nadir_mm == 0
    assert a.timepoints[1].pct_change_from_nadir is None
    assert a.timepoints[1].pct_change_from_baseline == -100


def test_percentages_are_exact_until_output():
    _, a = responses(
        baseline_of(("T1", 150, False), ("T2", 100, False)), at(8, {"T1": "105.1", "T2": 70})
    )
    assert a.timepoints[0].pct_change_from_baseline == Fraction(-2996, 100)


# --- §4.2 thresholds, both sides of each boundary --------------------------------------------------


@pytest.mark.parametrize(
    ("total", "is_pr"),
    [
        ("70", True),
        ("69.99", True),
        ("70.01", False),
        ("70.1", False),
    ],
)
def test_pr_threshold_is_30_percent_below_baseline_inclusive(total, is_pr):
    assert meets_pr_threshold(D(total), D(100)) is is_pr


def test_pr_threshold_is_not_fooled_by_display_rounding():
    assert meets_pr_threshold(D("175.1"), D(250)) is False  # -29.96 %, displayed -30.0
    assert meets_pr_threshold(D("175.0"), D(250)) is True  # exactly -30 %


@pytest.mark.parametrize(
    ("total", "reference", "is_pd"),
    [
        ("30", "25", True),  # exactly +20 % and exactly +5 mm
        ("29.99", "25", False),  # +19.96 %
        ("119.97", "100", False),  # +19.97 %, displayed 20.0
        ("120", "100", True),
        ("18", "15", False),  # exactly +20 % but only +3 mm
        ("24", "15", True),
        ("54", "50", False),  # +4 mm, +8 %
        ("5", "0", True),  # after a true CR: +5 mm
        ("4.99", "0", False),
    ],
)
def test_pd_threshold_needs_20_percent_and_5_mm_over_the_nadir_inclusive(total, reference, is_pd):
    assert meets_pd_threshold(D(total), D(reference)) is is_pd


# --- §4.2 categories and evaluation order ---------------------------------------------------------


def test_cr_needs_every_non_nodal_target_at_zero():
    b = baseline_of(("T1", 20, False), ("T2", 20, False))
    assert responses(b, at(8, {"T1": 0, "T2": 0}))[0] == [CR]
    assert responses(b, at(8, {"T1": 0, "T2": "0.5"}))[0] == [PR]
    assert responses(b, at(8, {"T1": 0, "T2": TOO_SMALL}))[0] == [PR]


@pytest.mark.parametrize(("short_axis", "expected"), [("9.9", CR), (10, PR), (TOO_SMALL, CR)])
def test_cr_needs_every_target_node_below_10_mm(short_axis, expected):
    b = baseline_of(("T1", 20, False), ("N1", 30, True))
    assert responses(b, at(8, {"T1": 0, "N1": short_axis}))[0] == [expected]


def test_cr_with_nodes_has_a_non_zero_sum():
    _, a = responses(baseline_of(("T1", 20, False), ("N1", 30, True)), at(8, {"T1": 0, "N1": 8}))
    assert a.timepoints[0].sum_mm == 8 and a.timepoints[0].target_response is TargetResponse.CR


def test_growing_nodes_that_stay_below_10_mm_are_still_cr():
    b = baseline_of(("N1", 20, True), ("N2", 16, True))
    result, _ = responses(b, at(8, {"N1": 5, "N2": 5}), at(16, {"N1": 9, "N2": 9}))
    assert result == [CR, CR]


def test_growing_nodes_are_pd_when_cr_is_not_checked_first():
    b = baseline_of(("N1", 20, True), ("N2", 16, True))
    config = RecistConfig(cr_check_before_pd=False)
    result, _ = responses(b, at(8, {"N1": 5, "N2": 5}), at(16, {"N1": 9, "N2": 9}), config=config)
    assert result == [CR, PD]


def test_pd_beats_pr():
    b = baseline_of(("T1", 50, False), ("T2", 30, False))
    result, _ = responses(b, at(8, {"T1": 28, "T2": 17}), at(16, {"T1": 35, "T2": 21}))
    assert result == [PR, PD]  # 56 mm is -30 % from baseline 80 and +24.4 % over nadir 45


def test_sd_when_neither_shrinkage_nor_growth_is_enough():
    b = baseline_of(("T1", 50, False), ("T2", 50, False))
    result, _ = responses(b, at(8, {"T1": 35, "T2": 34}), at(16, {"T1": 38, "T2": 36}))
    assert result == [PR, SD]


def test_missing_target_is_ne_unless_the_measured_ones_prove_pd():
    b = baseline_of(("T1", 20, False), ("T2", 15, False), ("T3", 15, False))
    assert responses(b, at(8, {"T1": 40, "T2": 40, "T3": None}))[0] == [PD]
    assert responses(b, at(8, {"T1": 20, "T2": 15, "T3": None}))[0] == [NE]
    assert responses(b, at(8, {"T1": None, "T2": None, "T3": None}))[0] == [NE]


def test_missing_target_pd_needs_both_conditions():
    b = baseline_of(("T1", 20, False), ("T2", 10, False))  # nadir 30
    assert responses(b, at(8, {"T1": 36, "T2": None}))[0] == [PD]  # +20 %, +6 mm
    assert responses(b, at(8, {"T1": "35.9", "T2": None}))[0] == [NE]


def test_after_a_true_cr_any_target_of_5_mm_is_pd():
    b = baseline_of(("T1", 30, False), ("T2", 20, False))
    result, a = responses(b, at(8, {"T1": 0, "T2": 0}), at(16, {"T1": TOO_SMALL, "T2": 0}))
    assert result == [CR, PD]
    assert a.timepoints[1].pct_change_from_nadir is None


def test_after_a_true_cr_regrowth_below_5_mm_is_not_pd():
    b = baseline_of(("T1", 30, False), ("T2", 20, False))
    assert responses(b, at(8, {"T1": 0, "T2": 0}), at(16, {"T1": 4, "T2": 0}))[0] == [CR, PR]


def test_target_response_is_na_without_targets():
    b = Baseline((), (NonTargetLesion("NT1", "bone"),))
    assert (
        target_response(b, at(8, {}, {"NT1": "PRESENT"}), None, RecistConfig()) is TargetResponse.NA
    )


# --- §5 non-target response --------------------------------------------------------------------

NT3 = Baseline((), tuple(NonTargetLesion(n, "bone") for n in ("NT1", "NT2", "NT3")))


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("ABSENT", "ABSENT", "ABSENT"), "CR"),
        (("ABSENT", "PRESENT", "ABSENT"), "NON_CR_NON_PD"),
        (("PRESENT", "PRESENT", "PRESENT"), "NON_CR_NON_PD"),
        (("ABSENT", "UNEQUIVOCAL_PD", "ABSENT"), "PD"),
        (("UNEQUIVOCAL_PD", "NOT_EVALUATED", "PRESENT"), "PD"),  # PD > NE
        (("ABSENT", "NOT_EVALUATED", "ABSENT"), "NE"),  # NE > CR
        (("PRESENT", "NOT_EVALUATED", "PRESENT"), "NE"),  # NE > Non-CR/Non-PD
    ],
)
def test_non_target_response_table_and_precedence(statuses, expected):
    followup = at(8, {}, dict(zip(("NT1", "NT2", "NT3"), statuses, strict=False)))
    assert non_target_response(NT3, followup).value == expected


def test_non_target_response_is_na_without_non_targets():
    assert (
        non_target_response(baseline_of(("T1", 20, False)), at(8, {"T1": 10}))
        is NonTargetResponse.NA
    )


# --- §7.1 Table 1, every row (first matching row wins) ----------------------------------------

ALL_NT = list(NonTargetResponse)
NON_PD_NT = [
    NonTargetResponse.CR,
    NonTargetResponse.NON_CR_NON_PD,
    NonTargetResponse.NE,
    NonTargetResponse.NA,
]
NOT_NEW = [NewLesions.NO, NewLesions.EQUIVOCAL]
TARGETS = [r for r in TargetResponse if r is not TargetResponse.NA]


@pytest.mark.parametrize("nt", ALL_NT)
@pytest.mark.parametrize("new", list(NewLesions))
def test_table_1_row_1_target_pd_is_pd(nt, new):
    assert overall_response_with_targets(TargetResponse.PD, nt, new) is OverallResponse.PD


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("new", list(NewLesions))
def test_table_1_row_2_non_target_pd_is_pd(target, new):
    assert overall_response_with_targets(target, NonTargetResponse.PD, new) is OverallResponse.PD


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("nt", ALL_NT)
def test_table_1_row_3_new_lesion_is_pd(target, nt):
    assert overall_response_with_targets(target, nt, NewLesions.YES) is OverallResponse.PD


@pytest.mark.parametrize("nt", NON_PD_NT)
@pytest.mark.parametrize("new", NOT_NEW)
def test_table_1_row_4_target_ne_is_ne(nt, new):
    assert overall_response_with_targets(TargetResponse.NE, nt, new) is OverallResponse.NE


@pytest.mark.parametrize("nt", [NonTargetResponse.CR, NonTargetResponse.NA])
@pytest.mark.parametrize("new", NOT_NEW)
def test_table_1_row_5_target_cr_with_non_target_cr_or_na_is_cr(nt, new):
    assert overall_response_with_targets(TargetResponse.CR, nt, new) is OverallResponse.CR


@pytest.mark.parametrize("nt", [NonTargetResponse.NON_CR_NON_PD, NonTargetResponse.NE])
@pytest.mark.parametrize("new", NOT_NEW)
def test_table_1_row_6_target_cr_with_persisting_or_unevaluated_non_target_is_pr(nt, new):
    assert overall_response_with_targets(TargetResponse.CR, nt, new) is OverallResponse.PR


@pytest.mark.parametrize("nt", NON_PD_NT)
@pytest.mark.parametrize("new", NOT_NEW)
def test_table_1_row_7_target_pr_is_pr(nt, new):
    assert overall_response_with_targets(TargetResponse.PR, nt, new) is OverallResponse.PR


@pytest.mark.parametrize("nt", NON_PD_NT)
@pytest.mark.parametrize("new", NOT_NEW)
def test_table_1_row_8_target_sd_is_sd(nt, new):
    assert overall_response_with_targets(TargetResponse.SD, nt, new) is OverallResponse.SD


# --- §7.2 Table 2, every row -----------------------------------------------------------------------


@pytest.mark.parametrize("new", list(NewLesions))
def test_table_2_row_1_non_target_pd_is_pd(new):
    assert overall_response_non_target_only(NonTargetResponse.PD, new) is OverallResponse.PD


@pytest.mark.parametrize(
    "nt", [NonTargetResponse.CR, NonTargetResponse.NON_CR_NON_PD, NonTargetResponse.NE]
)
def test_table_2_row_2_new_lesion_is_pd(nt):
    assert overall_response_non_target_only(nt, NewLesions.YES) is OverallResponse.PD


@pytest.mark.parametrize(
    ("nt", "expected"),
    [
        (NonTargetResponse.NE, OverallResponse.NE),
        (NonTargetResponse.CR, OverallResponse.CR),
        (NonTargetResponse.NON_CR_NON_PD, OverallResponse.NON_CR_NON_PD),
    ],
)
@pytest.mark.parametrize("new", NOT_NEW)
def test_table_2_rows_3_to_5(nt, expected, new):
    assert overall_response_non_target_only(nt, new) is expected


def test_non_target_only_participant_never_gets_sd_or_a_target_response():
    b = Baseline((), (NonTargetLesion("NT1", "bone"),))
    a = assess_participant(b, [at(8, {}, {"NT1": "PRESENT"})])
    tp = a.timepoints[0]
    assert tp.target_response is TargetResponse.NA
    assert tp.overall_response is OverallResponse.NON_CR_NON_PD
    assert a.baseline_sum_mm is None and tp.sum_mm is None and tp.nadir_mm is None


def test_missing_non_target_does_not_make_a_target_sd_timepoint_ne():
    b = baseline_of(("T1", 40, False), non_targets=("NT1",))
    a = assess_participant(b, [at(8, {"T1": 38}, {"NT1": "NOT_EVALUATED"})])
    assert a.timepoints[0].overall_response is OverallResponse.SD
