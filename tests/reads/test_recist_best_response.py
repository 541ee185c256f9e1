"""Best overall response (§8, Table 3), SD minimum duration, confirmation, and the progression
date with back-dating of a confirmed equivocal new lesion (§6, §9)."""

from decimal import Decimal as D

import pytest

from reads.recist import (
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetLesion,
    NonTargetStatus,
    OverallResponse,
    RecistConfig,
    TargetLesion,
    assess_participant,
)
from reads.recist.best_response import (
    CountedResponse,
    best_overall_response_confirmed,
    best_overall_response_unconfirmed,
    is_response_confirmed,
    meets_sd_minimum,
)

R = OverallResponse
CONFIG = RecistConfig()


def seq(*pairs):
    """(weeks, response) pairs as the timepoints BOR counts."""
    return [CountedResponse(D(str(w)), R(r)) for w, r in pairs]


def bor(*pairs, targets=True, config=CONFIG):
    counted = seq(*pairs)
    return (
        best_overall_response_unconfirmed(counted, has_target_disease=targets, config=config).value,
        best_overall_response_confirmed(counted, has_target_disease=targets, config=config).value,
    )


# --- §8 SD minimum duration ------------------------------------------------------------------


@pytest.mark.parametrize(("weeks", "qualifies"), [(6, True), ("5.99", False), (8, True)])
def test_sd_minimum_is_6_weeks_inclusive(weeks, qualifies):
    assert meets_sd_minimum(D(str(weeks)), R.SD, CONFIG) is qualifies


def test_visit_window_widens_the_sd_minimum():
    config = RecistConfig(sd_min_weeks=D(8), visit_window_weeks=D(1))
    assert meets_sd_minimum(D(7), R.SD, config)
    assert not meets_sd_minimum(D("6.9"), R.SD, config)


def test_non_cr_non_pd_is_held_to_the_sd_minimum_by_default_only():
    assert not meets_sd_minimum(D(4), R.NON_CR_NON_PD, CONFIG)
    assert meets_sd_minimum(
        D(4), R.NON_CR_NON_PD, RecistConfig(sd_min_applies_to_non_cr_non_pd=False)
    )


def test_sd_at_the_minimum_is_sd():
    assert bor((6, "SD"), (12, "PD")) == ("SD", "SD")


def test_only_early_sd_then_pd_is_pd():
    assert bor((5, "SD"), (12, "PD")) == ("PD", "PD")


def test_only_early_sd_without_pd_is_ne():
    assert bor((5, "SD"), (10, "NE")) == ("NE", "NE")


def test_non_target_only_stable_disease_is_called_non_cr_non_pd():
    assert bor((8, "NON_CR_NON_PD"), targets=False) == ("NON_CR_NON_PD", "NON_CR_NON_PD")
    assert bor((4, "NON_CR_NON_PD"), targets=False) == ("NE", "NE")


# --- §8.1 without confirmation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("timepoints", "expected"),
    [
        ([(8, "SD"), (16, "CR"), (24, "PR")], "CR"),
        ([(2, "CR")], "CR"),  # no duration rule for CR/PR without confirmation
        ([(8, "SD"), (16, "PR"), (24, "SD")], "PR"),
        ([(8, "NE"), (16, "SD")], "SD"),
        ([(8, "PD"), (16, "CR")], "PD"),  # later timepoints are ignored
        ([(8, "NE"), (16, "PD")], "PD"),
        ([(8, "NE"), (16, "NE")], "NE"),
        ([], "NE"),
    ],
)
def test_unconfirmed_best_response(timepoints, expected):
    assert bor(*timepoints)[0] == expected


# --- §8.2 Table 3, every row (first TP -> subsequent TP -> BOR) --------------------------------


@pytest.mark.parametrize(
    ("first", "then", "expected"),
    [
        ("CR", "CR", "CR"),
        ("CR", "PR", "PR"),  # note: the engine reads CR then PR as a PR confirmed by PR
        ("PR", "CR", "PR"),
        ("PR", "PR", "PR"),
        ("PR", "SD", "SD"),
        ("NE", "NE", "NE"),
    ],
)
def test_table_3_rows_without_a_duration_condition(first, then, expected):
    assert bor((8, first), (16, then))[1] == expected


@pytest.mark.parametrize("first", ["CR", "PR"])
@pytest.mark.parametrize(("then", "otherwise"), [("SD", None), ("PD", "PD"), ("NE", "NE")])
def test_table_3_rows_sd_if_the_minimum_is_met(first, then, otherwise):
    # First timepoint at week 8 meets the 6-week minimum: SD.
    assert bor((8, first), (16, then))[1] == "SD"
    if otherwise is not None:
        # Both timepoints before the 6-week minimum: the "else" branch of the table. (CR or PR
        # then an early SD is NE by the engine rules of §8, see the next test.)
        assert bor((4, first), (5, then))[1] == otherwise


def test_table_3_pr_then_sd_early_is_ne_by_the_engine_rules():
    # §8: "If only earlier SD exists, BOR is PD if PD follows, otherwise NE."
    assert bor((2, "PR"), (5, "SD"))[1] == "NE"


# --- §8.2 confirmation rules -------------------------------------------------------------------


def test_confirmation_needs_at_least_4_weeks_inclusive():
    assert bor((6, "PR"), (10, "PR"))[1] == "PR"
    assert bor((6, "PR"), ("9.99", "PR"))[1] == "SD"


def test_confirmation_interval_is_configurable():
    config = RecistConfig(confirmation_min_weeks=D(8))
    assert bor((6, "PR"), (12, "PR"), config=config)[1] == "SD"
    assert bor((6, "PR"), (14, "PR"), config=config)[1] == "PR"


def test_intervening_ne_does_not_break_confirmation():
    assert bor((8, "PR"), (12, "NE"), (16, "PR"))[1] == "PR"
    assert bor((8, "CR"), (12, "NE"), (16, "CR"))[1] == "CR"


def test_intervening_ne_breaks_confirmation_when_the_protocol_says_so():
    config = RecistConfig(intervening_ne_allowed=False)
    assert bor((8, "PR"), (12, "NE"), (16, "PR"), config=config)[1] == "SD"


def test_intervening_sd_breaks_confirmation():
    assert bor((8, "PR"), (16, "SD"), (24, "PR"))[1] == "SD"


def test_intervening_sd_is_allowed_when_the_protocol_says_so():
    config = RecistConfig(intervening_sd_allowed=True)
    assert bor((8, "PR"), (16, "SD"), (24, "PR"), config=config)[1] == "PR"


def test_timepoints_less_than_4_weeks_later_are_skipped_not_disqualifying():
    assert bor((8, "PR"), (10, "PR"), (12, "PR"))[1] == "PR"
    assert bor((8, "PR"), (10, "SD"), (12, "PR"))[1] == "PR"
    assert bor((8, "CR"), (10, "PR"), (12, "CR"))[1] == "CR"


def test_cr_is_confirmed_only_by_a_later_cr():
    counted = seq((8, "CR"), (16, "PR"), (24, "CR"))
    assert not is_response_confirmed(counted, 0, (R.CR,), CONFIG)
    assert is_response_confirmed(counted, 0, (R.CR, R.PR), CONFIG)
    assert bor((8, "CR"), (16, "PR"), (24, "CR"))[1] == "PR"


def test_pd_ends_the_search_for_confirmation():
    assert bor((8, "PR"), (12, "PD"), (16, "PR"))[1] == "SD"


def test_unconfirmed_response_counts_as_sd_only_from_the_sd_minimum():
    assert bor((6, "PR")) == ("PR", "SD")
    assert bor((5, "PR")) == ("PR", "NE")
    assert bor((5, "CR"), (9, "PD")) == ("CR", "PD")


def test_non_target_only_unconfirmed_cr_counts_as_non_cr_non_pd():
    assert bor((8, "CR"), targets=False) == ("CR", "NON_CR_NON_PD")
    assert bor((8, "CR"), (16, "CR"), targets=False) == ("CR", "CR")


# --- §6/§9 progression and back-dating -------------------------------------------------------


def participant(*followups, non_target=False):
    """One liver target of 50 mm (and one bone non-target when asked); follow-ups are
    (weeks, target mm, new lesions[, non-target status])."""
    baseline = Baseline(
        (TargetLesion("T1", "liver", False, D(50)),),
        (NonTargetLesion("NT1", "bone"),) if non_target else (),
    )
    entries = []
    for weeks, size, new, *rest in followups:
        nts = {"NT1": NonTargetStatus(rest[0])} if non_target else {}
        entries.append(FollowUp(D(str(weeks)), {"T1": D(str(size))}, nts, NewLesions(new)))
    return assess_participant(baseline, entries)


def test_progression_date_is_the_first_pd_timepoint():
    a = participant((8, 40, "NO"), (16, 55, "NO"), (24, 70, "NO"))
    assert a.progression_weeks == 16 and a.progression_index == 1 and not a.progression_is_backdated


def test_no_progression_gives_no_date():
    assert participant((8, 40, "NO")).progression_weeks is None


def test_confirmed_equivocal_lesion_back_dates_progression_to_its_first_scan():
    a = participant((8, 40, "EQUIVOCAL"), (16, 40, "EQUIVOCAL"), (24, 40, "YES"))
    assert [tp.overall_response.value for tp in a.timepoints] == [
        "SD",
        "SD",
        "PD",
    ]  # locked reads stay
    assert a.progression_weeks == 8
    assert a.progression_index == 0 and a.progression_declared_index == 2
    assert a.progression_is_backdated
    # for BOR every timepoint on or after the back-dated date counts as PD
    assert a.best_overall_response_unconfirmed is R.PD
    assert a.best_overall_response_confirmed is R.PD


def test_equivocal_lesion_that_resolved_is_not_back_dated():
    a = participant((8, 40, "EQUIVOCAL"), (16, 40, "NO"), (24, 40, "YES"))
    assert a.progression_weeks == 24
    assert a.best_overall_response_unconfirmed is R.SD


def test_equivocal_lesion_never_confirmed_changes_nothing():
    a = participant((8, 40, "EQUIVOCAL"), (16, 40, "EQUIVOCAL"))
    assert a.progression_weeks is None
    assert a.best_overall_response_unconfirmed is R.SD


def test_back_dating_keeps_earlier_responses_for_bor():
    a = participant((6, 30, "NO"), (12, 30, "EQUIVOCAL"), (18, 30, "YES"))
    assert a.progression_weeks == 12
    assert a.best_overall_response_unconfirmed is R.PR  # week 6 PR stays before the date
    assert (
        a.best_overall_response_confirmed is R.SD
    )  # the PR is not confirmed (week 12 counts as PD)


def test_equivocal_lesion_confirmed_when_pd_is_declared_for_another_reason():
    a = participant((8, 40, "EQUIVOCAL"), (16, 70, "YES"))
    assert a.progression_weeks == 8


def test_equivocal_lesion_does_not_back_date_pd_called_without_it():
    a = participant((8, 40, "EQUIVOCAL"), (16, 70, "EQUIVOCAL"))
    assert a.progression_weeks == 16


def test_best_overall_response_follows_the_protocol_choice():
    a = participant((8, 30, "NO"))
    assert a.best_overall_response is R.PR
    baseline, followups = a.baseline, [tp.followup for tp in a.timepoints]
    confirmed = assess_participant(baseline, followups, RecistConfig(confirmation_required=True))
    assert confirmed.best_overall_response is R.SD
