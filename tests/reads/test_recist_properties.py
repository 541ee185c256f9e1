"""Property-based checks of invariants the rulebook implies, on random valid participants."""

from decimal import Decimal as D
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from reads.recist import (
    TOO_SMALL,
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetLesion,
    NonTargetResponse,
    NonTargetStatus,
    OverallResponse,
    TargetLesion,
    TargetResponse,
    assess_participant,
)
from reads.recist.responses import meets_pd_threshold, meets_pr_threshold

R = OverallResponse
RANK = {R.CR: 5, R.PR: 4, R.SD: 3, R.NON_CR_NON_PD: 3, R.PD: 2, R.NE: 1}

tenths = st.integers(min_value=0, max_value=1500).map(lambda n: D(n) / 10)


@st.composite
def participants(draw, *, nodes=True, too_small=True, missing=True):
    """A valid baseline (0-5 targets in distinct organs, at most 2 nodes; 0-2 non-targets) and 1-6
    chronological follow-ups with random entries."""
    n_targets = draw(st.integers(min_value=0 if nodes else 1, max_value=5))
    targets = []
    for i in range(n_targets):
        # all nodes are one organ: at most 2 nodal targets
        is_node = nodes and sum(t.is_node for t in targets) < 2 and draw(st.booleans())
        size = draw(st.integers(min_value=15 if is_node else 10, max_value=100))
        targets.append(TargetLesion(f"T{i + 1}", f"organ {i}", is_node, D(size)))
    n_non_targets = draw(st.integers(min_value=0 if n_targets else 1, max_value=2))
    non_targets = [NonTargetLesion(f"NT{i + 1}", "bone") for i in range(n_non_targets)]
    value_choices = [tenths]
    if too_small:
        value_choices.append(st.just(TOO_SMALL))
    if missing:
        value_choices.append(st.none())
    values = st.one_of(*value_choices)
    followups = []
    weeks = D(0)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        weeks += draw(st.integers(min_value=1, max_value=12))
        followups.append(
            FollowUp(
                weeks,
                {t.lesion_id: draw(values) for t in targets},
                {n.lesion_id: draw(st.sampled_from(list(NonTargetStatus))) for n in non_targets},
                draw(st.sampled_from(list(NewLesions))),
            )
        )
    return Baseline(tuple(targets), tuple(non_targets)), followups


@settings(deadline=None, database=None)
@given(participants())
def test_nadir_never_increases_and_never_exceeds_baseline(participant):
    baseline, followups = participant
    assessment = assess_participant(baseline, followups)
    nadirs = [tp.nadir_mm for tp in assessment.timepoints]
    if not baseline.targets:
        assert all(n is None for n in nadirs)
        return
    assert all(n <= assessment.baseline_sum_mm for n in nadirs)
    assert all(later <= earlier for earlier, later in pairwise(nadirs))


@settings(deadline=None, database=None)
@given(participants())
def test_pr_and_pd_are_never_both_true(participant):
    baseline, followups = participant
    for tp in assess_participant(baseline, followups).timepoints:
        if tp.target_response is TargetResponse.PR:
            assert meets_pr_threshold(tp.sum_mm, tp.baseline_sum_mm)
            assert not meets_pd_threshold(tp.sum_mm, tp.nadir_mm)
        if tp.sum_mm is not None and meets_pd_threshold(tp.sum_mm, tp.nadir_mm):
            assert tp.target_response in (TargetResponse.PD, TargetResponse.CR)
        if tp.overall_response is R.PR:
            assert tp.non_target_response is not NonTargetResponse.PD
            assert tp.new_lesions is not NewLesions.YES


@settings(deadline=None, database=None)
@given(participants())
def test_a_new_unequivocal_lesion_is_always_pd(participant):
    baseline, followups = participant
    for tp in assess_participant(baseline, followups).timepoints:
        if tp.new_lesions is NewLesions.YES:
            assert tp.overall_response is R.PD


@settings(deadline=None, database=None)
@given(participants())
def test_confirmation_never_improves_the_best_response(participant):
    baseline, followups = participant
    a = assess_participant(baseline, followups)
    assert RANK[a.best_overall_response_confirmed] <= RANK[a.best_overall_response_unconfirmed]


@settings(deadline=None, database=None)
@given(participants())
def test_progression_is_dated_no_later_than_the_first_pd(participant):
    baseline, followups = participant
    a = assess_participant(baseline, followups)
    first_pd = next((tp for tp in a.timepoints if tp.overall_response is R.PD), None)
    if first_pd is None:
        assert a.progression_weeks is None
    else:
        assert a.progression_weeks <= first_pd.weeks
        assert a.progression_weeks in [tp.weeks for tp in a.timepoints]


def scaled(participant, factor):
    baseline, followups = participant
    targets = tuple(
        TargetLesion(t.lesion_id, t.organ, t.is_node, t.diameter_mm * factor)
        for t in baseline.targets
    )
    return Baseline(targets, baseline.non_targets), [
        FollowUp(
            f.weeks,
            {k: None if v is None else v * factor for k, v in f.targets.items()},
            f.non_targets,
            f.new_lesions,
        )
        for f in followups
    ]


def five_mm_test(tp):
    current = tp.sum_mm if tp.sum_mm is not None else tp.measured_sum_mm
    return current - tp.nadir_mm >= 5


@settings(deadline=None, database=None)
@given(participants(nodes=False, too_small=False), st.sampled_from([D(2), D("2.5"), D(3), D(10)]))
def test_scaling_every_diameter_changes_responses_only_through_the_5_mm_rule(participant, factor):
    """Without nodes (whose CR rule is an absolute 10 mm) and without TOO_SMALL (an absolute
    5 mm), the 30 % and 20 % rules and the nadir are scale-free; only the +5 mm rule is not."""
    original = assess_participant(*participant)
    bigger = assess_participant(*scaled(participant, factor))
    all_agree = True
    for tp, tp_scaled in zip(original.timepoints, bigger.timepoints, strict=False):
        assert tp_scaled.nadir_mm == tp.nadir_mm * factor
        assert tp_scaled.pct_change_from_baseline == tp.pct_change_from_baseline
        if five_mm_test(tp) == five_mm_test(tp_scaled):
            assert tp_scaled.target_response is tp.target_response
            assert tp_scaled.overall_response is tp.overall_response
        else:
            all_agree = False
    if all_agree:
        assert (
            bigger.best_overall_response_unconfirmed is original.best_overall_response_unconfirmed
        )
        assert bigger.best_overall_response_confirmed is original.best_overall_response_confirmed
        assert bigger.progression_weeks == original.progression_weeks
