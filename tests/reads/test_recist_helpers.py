"""Helpers for the reads pages: explanations, completeness before signing, adjudication triggers."""

from decimal import Decimal as D

from reads.recist import (
    TOO_SMALL,
    AdjudicationTrigger,
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetLesion,
    NonTargetStatus,
    RecistConfig,
    TargetLesion,
    adjudication_triggers_hit,
    assess_participant,
    explain_non_target_response,
    explain_overall_response,
    explain_target_response,
    timepoint_entry_completeness,
)

TWO = Baseline(
    (TargetLesion("T1", "liver", False, D(50)), TargetLesion("T2", "lung", False, D(30)))
)
WITH_NT = Baseline(TWO.targets, (NonTargetLesion("NT1", "bone"), NonTargetLesion("NT2", "pleura")))


def at(weeks, t1, t2, nts=None, new="NO"):
    return FollowUp(
        D(str(weeks)),
        {"T1": t1 if t1 is None else D(str(t1)), "T2": t2 if t2 is None else D(str(t2))},
        {k: NonTargetStatus(v) for k, v in (nts or {}).items()},
        NewLesions(new),
    )


def timepoints(baseline, *followups):
    return assess_participant(baseline, list(followups)).timepoints


def test_pd_explanation_quotes_sum_percentage_and_millimetres_over_the_nadir():
    tps = timepoints(TWO, at(8, 30, 20), at(16, 28, 17), at(24, 35, 21))
    assert (
        explain_target_response(tps[2])
        == "PD: sum 56 mm is +24.4 % and +11 mm over the nadir of 45 mm"
    )
    assert explain_overall_response(tps[2]) == "PD: target response PD"


def test_pr_and_sd_explanations_name_the_thresholds():
    tps = timepoints(TWO, at(8, 30, 20), at(16, 35, 22))
    assert explain_target_response(tps[0]) == (
        "PR: sum 50 mm is -37.5 % from the baseline of 80 mm (PR needs -30 % or less)"
    )
    assert explain_target_response(tps[1]) == (
        "SD: sum 57 mm is -28.8 % from the baseline of 80 mm (PR needs -30 %) and +14.0 % and "
        "+7 mm over the nadir of 50 mm (PD needs +20 % and +5 mm)"
    )


def test_explanation_shows_more_decimals_when_rounding_would_hide_a_missed_threshold():
    b = Baseline(
        (TargetLesion("T1", "liver", False, D(150)), TargetLesion("T2", "lung", False, D(100)))
    )
    tp = timepoints(b, at(8, "105.1", 70))[0]
    assert "-29.96 %" in explain_target_response(tp)


def test_ne_and_missing_target_pd_explanations_name_the_missing_lesion():
    tps = timepoints(TWO, at(8, 30, None))
    assert explain_target_response(tps[0]).startswith(
        "NE: target T2 not assessed; the measured targets sum to 30 mm"
    )
    tps = timepoints(TWO, at(8, 100, None))
    assert explain_target_response(tps[0]) == (
        "PD: target T2 not assessed, but the measured targets alone sum to 100 mm, +25.0 % and +20 mm "
        "over the nadir of 80 mm"
    )


def test_cr_explanations():
    tps = timepoints(TWO, at(8, 0, 0), at(16, 0, 6))
    assert explain_target_response(tps[0]) == "CR: every target lesion has disappeared (0 mm)"
    assert explain_target_response(tps[1]) == "PD: sum 6 mm is +6 mm over the nadir of 0 mm"


def test_non_target_explanations():
    tps = timepoints(
        WITH_NT,
        at(8, 30, 20, {"NT1": "PRESENT", "NT2": "NOT_EVALUATED"}),
        at(16, 30, 20, {"NT1": "UNEQUIVOCAL_PD", "NT2": "NOT_EVALUATED"}),
        at(24, 30, 20, {"NT1": "ABSENT", "NT2": "ABSENT"}),
        at(32, 30, 20, {"NT1": "ABSENT", "NT2": "PRESENT"}),
    )
    assert explain_non_target_response(tps[0]) == "NE: non-target NT2 not evaluated"
    assert explain_non_target_response(tps[1]) == "PD: unequivocal progression of non-target NT1"
    assert explain_non_target_response(tps[2]).startswith("CR: every non-target lesion is gone")
    assert explain_non_target_response(tps[3]) == (
        "Non-CR/Non-PD: non-target NT2 persists without unequivocal progression"
    )
    assert (
        explain_non_target_response(timepoints(TWO, at(8, 30, 20))[0])
        == "NA: no non-target lesions at baseline"
    )


def test_overall_explanations_name_the_table_row():
    tps = timepoints(
        WITH_NT,
        at(8, 0, 0, {"NT1": "PRESENT", "NT2": "ABSENT"}, "EQUIVOCAL"),
        at(16, 0, 0, {"NT1": "PRESENT", "NT2": "ABSENT"}, "YES"),
    )
    assert explain_overall_response(tps[0]).startswith(
        "PR: targets are in CR but non-target disease is not"
    )
    assert "equivocal new lesion" in explain_overall_response(tps[0])
    assert explain_overall_response(tps[1]) == "PD: an unequivocal new lesion"


# --- complete enough to sign? ------------------------------------------------------------------


def test_complete_entry_may_be_signed():
    entry = {
        "targets": {"T1": 30, "T2": None},
        "non_targets": {"NT1": "PRESENT", "NT2": "NOT_EVALUATED"},
        "new_lesions": "NO",
    }
    completeness = timepoint_entry_completeness(WITH_NT, entry)
    assert completeness.is_complete and completeness.missing == () and completeness.problems == ()


def test_incomplete_entry_lists_what_is_missing():
    entry = {"targets": {"T1": 30}, "non_targets": {"NT1": "PRESENT"}}
    completeness = timepoint_entry_completeness(WITH_NT, entry)
    assert not completeness.is_complete
    assert completeness.missing == (
        "target T2: no measurement (enter mm, TOO_SMALL or not assessable)",
        "non-target NT2: no status",
        "new lesions: not answered (NO, YES or EQUIVOCAL)",
    )


def test_entry_with_bad_or_unknown_values_lists_the_problems():
    entry = {
        "targets": {"T1": -3, "T2": TOO_SMALL.value, "T9": 4},
        "non_targets": {"NT1": "GONE", "NT2": "ABSENT"},
        "new_lesions": "MAYBE",
    }
    completeness = timepoint_entry_completeness(WITH_NT, entry)
    assert not completeness.is_complete and completeness.missing == ()
    assert len(completeness.problems) == 4
    assert any("T9 is not a baseline target" in p for p in completeness.problems)


# --- adjudication triggers (§10.4) -------------------------------------------------------------


def test_default_triggers_are_bor_and_progression_timepoint():
    reader_1 = assess_participant(TWO, [at(8, 30, 20), at(16, 40, 30)])  # PR, PD at 16
    reader_2 = assess_participant(TWO, [at(8, 40, 25), at(16, 40, 40)])  # SD, PD at 16
    assert adjudication_triggers_hit(reader_1, reader_2) == [
        AdjudicationTrigger.BEST_OVERALL_RESPONSE
    ]
    reader_3 = assess_participant(TWO, [at(8, 30, 20), at(16, 30, 20)])
    assert adjudication_triggers_hit(reader_1, reader_3) == [AdjudicationTrigger.PROGRESSION]
    assert adjudication_triggers_hit(reader_1, reader_1) == []


def test_optional_triggers_compare_first_response_and_every_timepoint():
    reader_1 = assess_participant(TWO, [at(8, 30, 20), at(16, 30, 20)])  # PR, PR
    reader_2 = assess_participant(TWO, [at(8, 40, 25), at(16, 30, 20)])  # SD, PR
    hit = adjudication_triggers_hit(reader_1, reader_2, frozenset(AdjudicationTrigger))
    assert hit == [AdjudicationTrigger.FIRST_RESPONSE, AdjudicationTrigger.TIMEPOINT_RESPONSE]


def test_bor_trigger_uses_the_confirmed_bor_when_the_protocol_requires_confirmation():
    config = RecistConfig(confirmation_required=True)
    reader_1 = assess_participant(TWO, [at(8, 30, 20)], config)  # PR unconfirmed -> SD
    reader_2 = assess_participant(TWO, [at(8, 40, 25)], config)  # SD
    assert adjudication_triggers_hit(reader_1, reader_2) == []
