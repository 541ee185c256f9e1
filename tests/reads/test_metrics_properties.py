"""Properties of the reader metrics: kappa bounds and symmetry, percent bounds, p-chart limits, reader-order independence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reads.metrics import (
    AdjudicationRecord,
    AdjudicationState,
    CaseRead,
    TimepointRead,
    cohen_kappa,
    compute_reader_metrics,
)
from reads.recist import OverallResponse

RESPONSES = [r.value for r in OverallResponse]
ratings = st.lists(st.tuples(st.sampled_from(RESPONSES), st.sampled_from(RESPONSES)), max_size=40)


@given(ratings)
def test_kappa_lies_between_minus_one_and_one(pairs):
    kappa = cohen_kappa(pairs).kappa
    assert kappa is None or -1 <= kappa <= 1


@given(ratings)
def test_kappa_and_agreement_do_not_depend_on_which_reader_is_first(pairs):
    forward = cohen_kappa(pairs)
    backward = cohen_kappa([(b, a) for a, b in pairs])
    assert (forward.kappa, forward.observed, forward.expected) == (backward.kappa, backward.observed, backward.expected)


@given(ratings)
def test_percent_agreement_is_between_0_and_100_and_perfect_agreement_gives_kappa_one_or_undefined(pairs):
    agreement = cohen_kappa(pairs)
    if not pairs:
        assert agreement.percent_agreement is None
        return
    assert 0 <= agreement.percent_agreement <= 100
    if agreement.agreements == len(pairs):
        assert agreement.kappa in (1, None)


@st.composite
def trials(draw):
    """Random cases read by two of four readers (or one), with random responses and decisions."""
    readers = ["A", "B", "C", "D"]
    reads, adjudications = [], []
    for number in range(draw(st.integers(0, 25))):
        case = f"C{number}"
        pair = draw(st.sampled_from([("A", "B"), ("B", "C"), ("C", "D"), ("A", "D"), ("A",), ("D",)]))
        for reader in pair:
            n_tp = draw(st.integers(1, 4))
            tps = tuple(
                TimepointRead(f"T{i}", OverallResponse(draw(st.sampled_from(RESPONSES))),
                              datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i), active_seconds=draw(st.integers(1, 3600)))
                for i in range(n_tp)
            )
            reads.append(CaseRead(reader, case, tps, OverallResponse(draw(st.sampled_from(RESPONSES)))))
        if len(pair) == 2 and draw(st.booleans()):
            state = draw(st.sampled_from(list(AdjudicationState)))
            at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=draw(st.integers(0, 120)))
            adjudications.append(AdjudicationRecord(case, pair[0], pair[1], state, 1, draw(st.sampled_from([1, 2])),
                                                    draw(st.sampled_from(["measurement", "new_lesion_call"])), at))
    return readers, reads, adjudications


@settings(max_examples=60, deadline=None)
@given(trials(), st.sampled_from(["pooled", "reader"]), st.sampled_from(["month", "block"]))
def test_rates_are_percentages_and_p_chart_limits_bracket_the_centre(trial, centre, by):
    _, reads, adjudications = trial
    report = compute_reader_metrics(reads, adjudications, centre=centre, p_chart_by=by, block_size=3)
    for reader in report.readers:
        for ratio in (reader.adjudication_rate, reader.adjudicator_agreement, reader.disagreement_index):
            assert ratio.percent is None or 0 <= ratio.percent <= 100
    for chart in report.p_charts:
        for point in chart.points:
            assert 0 <= point.lower_limit <= float(chart.centre) <= point.upper_limit <= 1
            assert point.out_of_control == (point.p < point.lower_limit or point.p > point.upper_limit)
    for pair in report.pairs:
        kappa = pair.timepoint_agreement.kappa
        assert kappa is None or -1 <= kappa <= 1


@settings(max_examples=40, deadline=None)
@given(trials())
def test_swapping_the_reader_slots_changes_no_pair_metric(trial):
    """Slots 1 and 2 swapped (and the selection with them) describe the same outcome."""
    _, reads, adjudications = trial
    swapped = [
        AdjudicationRecord(a.case, a.reader_2, a.reader_1, a.state, a.round, 3 - a.selected_slot, a.reason_code, a.decided_at)
        for a in adjudications
    ]
    before = compute_reader_metrics(reads, adjudications).to_dict()
    after = compute_reader_metrics(list(reversed(reads)), swapped).to_dict()
    assert before == after
