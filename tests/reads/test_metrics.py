"""Reader metrics on hand-worked examples: kappa, RDI, adjudication and agreement rates, p-chart limits, edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest

from reads.metrics import (
    AdjudicationRecord,
    AdjudicationState,
    CaseRead,
    MetricsInputError,
    TimepointRead,
    cohen_kappa,
    compute_reader_metrics,
)
from reads.recist import OverallResponse as R

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)


def read(reader, case, responses, best=None, seconds=None):
    """A read whose timepoints are W8, W16, ... with the given overall responses."""
    seconds = seconds or [600] * len(responses)
    timepoints = tuple(
        TimepointRead(f"W{8 * (i + 1)}", R(resp), T0 + timedelta(days=i), active_seconds=s)
        for i, (resp, s) in enumerate(zip(responses, seconds, strict=True))
    )
    return CaseRead(reader, case, timepoints, R(best) if best else None)


def decided(case, r1, r2, slot, reason="measurement", at=T0, round_=1, state=AdjudicationState.DECIDED):
    return AdjudicationRecord(case, r1, r2, state, round_, slot, reason, at)


def test_kappa_on_ten_timepoints_matches_the_hand_computation():
    """A: PR PR PR SD SD SD SD PD PD CR; B: PR PR SD SD SD SD PD PD PD PR.

    Agreements at 1, 2, 4, 5, 6, 8, 9: po = 7/10.
    Marginals A: PR 3, SD 4, PD 2, CR 1; B: PR 3, SD 4, PD 3, CR 0.
    pe = (3·3 + 4·4 + 2·3 + 1·0) / 100 = 31/100.
    kappa = (0.70 - 0.31) / (1 - 0.31) = 0.39 / 0.69 = 13/23 = 0.5652... -> 0.565.
    """
    a = ["PR", "PR", "PR", "SD", "SD", "SD", "SD", "PD", "PD", "CR"]
    b = ["PR", "PR", "SD", "SD", "SD", "SD", "PD", "PD", "PD", "PR"]
    agreement = cohen_kappa(zip(a, b, strict=True))
    assert agreement.observed == Fraction(7, 10)
    assert agreement.expected == Fraction(31, 100)
    assert agreement.kappa == Fraction(13, 23)
    assert agreement.to_dict() == {
        "n": 10, "agreements": 7, "percent_agreement": 70.0, "expected_agreement_percent": 31.0, "kappa": 0.565,
    }


def test_kappa_is_minus_one_when_two_readers_swap_two_categories():
    """A: PR SD; B: SD PR. po = 0; pe = (1·1 + 1·1) / 4 = 1/2; kappa = (0 - 1/2) / (1/2) = -1."""
    assert cohen_kappa([("PR", "SD"), ("SD", "PR")]).kappa == -1


def test_kappa_is_undefined_when_both_readers_use_one_category_throughout():
    """All SD for both: po = 1 and pe = 1·1 = 1, so (po - pe) / (1 - pe) is 0/0: kappa None, agreement 100 %."""
    agreement = cohen_kappa([("SD", "SD")] * 4)
    assert agreement.kappa is None
    assert agreement.percent_agreement == 100.0
    assert agreement.to_dict()["kappa"] is None


def test_kappa_and_agreement_are_none_when_nothing_was_compared():
    agreement = cohen_kappa([])
    assert (agreement.n, agreement.observed, agreement.kappa, agreement.percent_agreement) == (0, None, None, None)


def test_pair_kappa_is_computed_from_the_timepoints_both_readers_signed():
    """Two cases. Case 1: A PR SD, B PR PD. Case 2: A SD SD PD, B SD SD (B has not signed W24).

    Compared: (PR,PR) (SD,PD) (SD,SD) (SD,SD); W24 of case 2 only A signed, so it is left out.
    po = 3/4. A: PR 1, SD 3; B: PR 1, SD 2, PD 1. pe = (1·1 + 3·2) / 16 = 7/16.
    kappa = (12/16 - 7/16) / (9/16) = 5/9 = 0.556.
    Best responses: case 1 (PR, PR), case 2 (SD, SD): 2 of 2 agree; pe = (1·1 + 1·1)/4 = 1/2, kappa 1.
    """
    report = compute_reader_metrics([
        read("A", "C1", ["PR", "SD"], "PR"), read("B", "C1", ["PR", "PD"], "PR"),
        read("A", "C2", ["SD", "SD", "PD"], "SD"), read("B", "C2", ["SD", "SD"], "SD"),
    ])
    pair = report.pair("B", "A")
    assert pair is not None and pair.readers == ("A", "B")
    assert pair.timepoint_agreement.n == 4
    assert pair.timepoint_agreement.kappa == Fraction(5, 9)
    assert pair.to_dict()["timepoint_response_agreement"]["kappa"] == 0.556
    assert pair.to_dict()["timepoint_response_agreement"]["percent_agreement"] == 75.0
    assert pair.best_response_agreement.kappa == 1


def _rdi_world():
    """A and B read C1-C4, A alone C5, B and C read C6.

    C1 decided for A (slot 1, measurement); C2 decided for B (slot 2, new-lesion call); C3 open;
    C4 had a round voided by a re-opened read. C6: round 1 chose B and was superseded (signed
    later than round 2, to show the state and not the time decides); round 2 chose C
    (target selection).
    """
    reads = [
        read("A", "C1", ["PR"], seconds=[300]), read("B", "C1", ["SD"]),
        read("A", "C2", ["PR"], seconds=[900]), read("B", "C2", ["SD"]),
        read("A", "C3", ["PD"], seconds=[600]), read("B", "C3", ["SD"]),
        read("A", "C4", ["SD"], seconds=[1200]), read("B", "C4", ["SD"]),
        read("A", "C5", ["SD"], seconds=[60]),
        read("B", "C6", ["PR"]), read("C", "C6", ["SD"]),
    ]
    adjudications = [
        decided("C1", "A", "B", 1, "measurement"),
        decided("C2", "A", "B", 2, "new_lesion_call"),
        AdjudicationRecord("C3", "A", "B", AdjudicationState.OPEN),
        decided("C4", "A", "B", 1, "measurement", state=AdjudicationState.VOID),
        decided("C6", "B", "C", 1, "image_quality", at=T0 + timedelta(days=30), state=AdjudicationState.SUPERSEDED),
        decided("C6", "B", "C", 2, "target_selection", at=T0 + timedelta(days=3), round_=2),
    ]
    return compute_reader_metrics(reads, adjudications)


def test_reader_disagreement_index_counts_the_other_reader_chosen_over_all_cases_read():
    """A read 5 cases (C1-C5); the adjudicator chose B on C2: RDI = 1/5 x 100 = 20.0.
    B read 5 (C1-C4, C6); chosen against on C1 (A) and C6 (C, the governing round 2): 2/5 x 100 = 40.0.
    C read 1 (C6) and was chosen: 0/1 = 0.0.
    """
    report = _rdi_world()
    assert report.reader("A").disagreement_index.to_dict() == {"numerator": 1, "denominator": 5, "percent": 20.0}
    assert report.reader("B").disagreement_index.percent == 40.0
    assert report.reader("C").disagreement_index.percent == 0.0


def test_adjudicator_agreement_uses_the_latest_non_superseded_decision():
    """A: decisions C1 (A chosen), C2 (B chosen): 1/2 = 50.0 %.
    B: C1 (A), C2 (B), C6 round 2 (C): 1/3 = 33.3 % (the superseded round 1 for B is ignored).
    C: C6 round 2 chose C: 1/1 = 100.0 %.
    """
    report = _rdi_world()
    assert report.reader("A").adjudicator_agreement.percent == 50.0
    assert report.reader("B").adjudicator_agreement.to_dict() == {"numerator": 1, "denominator": 3, "percent": 33.3}
    assert report.reader("C").adjudicator_agreement.percent == 100.0


def test_adjudication_rate_counts_open_and_decided_rounds_but_not_void_ones():
    """A's cases read by both: C1-C4; adjudicated C1, C2 (decided), C3 (open); C4 void: 3/4 = 75.0 %.
    B: C1-C4 and C6 read by both, adjudicated C1, C2, C3, C6: 4/5 = 80.0 %.
    Overall: 5 double-read cases, 4 adjudicated = 80.0 %, 3 governing decisions, 1 open.
    Pairs: (A, B) 3/4; (B, C) 1/1; A and C share no case, so there is no (A, C) pair.
    """
    report = _rdi_world()
    assert report.reader("A").adjudication_rate.percent == 75.0
    assert report.reader("B").adjudication_rate.percent == 80.0
    assert report.overall.to_dict() == {
        "cases_read": 6,
        "double_read_cases": 5,
        "adjudication_rate": {"numerator": 4, "denominator": 5, "percent": 80.0},
        "decisions": 3,
        "open_adjudications": 1,
        "discordance_reasons": {"measurement": 1, "new_lesion_call": 1, "target_selection": 1},
    }
    assert [p.readers for p in report.pairs] == [("A", "B"), ("B", "C")]
    assert report.pair("A", "B").adjudication_rate.percent == 75.0
    assert report.pair("A", "B").selected == {"A": 1, "B": 1}
    assert report.pair("B", "C").selected == {"B": 0, "C": 1}
    assert report.pair("A", "C") is None


def test_discordance_reasons_count_the_governing_decisions_of_each_reader():
    report = _rdi_world()
    assert report.reader("A").discordance_reasons == {"measurement": 1, "new_lesion_call": 1}
    assert report.reader("B").discordance_reasons == {"measurement": 1, "new_lesion_call": 1, "target_selection": 1}
    assert report.reader("C").discordance_reasons == {"target_selection": 1}


def test_cases_timepoints_and_median_read_time_per_reader():
    """A's timepoint read times: 300, 900, 600, 1200, 60 s: sorted 60 300 600 900 1200, median 600."""
    report = _rdi_world()
    a = report.reader("A")
    assert (a.cases_read, a.timepoints_read, a.median_read_seconds) == (5, 5, 600)


def test_read_time_falls_back_to_start_to_signature_when_active_seconds_are_missing():
    """Two timepoints: 120 active seconds, and started 5 minutes before signing (300 s): median 210.0."""
    tps = (
        TimepointRead("W8", R.SD, T0, active_seconds=120),
        TimepointRead("W16", R.SD, T0, started_at=T0 - timedelta(minutes=5)),
        TimepointRead("W24", R.SD, T0),
    )
    report = compute_reader_metrics([CaseRead("A", "C1", tps)])
    assert report.reader("A").to_dict()["median_read_seconds"] == 210.0


def _monthly_decisions():
    """A and B read 44 cases together. January: 20 decisions, A chosen 4; February: 20, A chosen 18;
    March: 4, A chosen 2 (A is slot 1 and chosen on the first decisions of each month)."""
    reads, adjudications = [], []
    plan = [(datetime(2024, 1, 5, tzinfo=UTC), 20, 4), (datetime(2024, 2, 5, tzinfo=UTC), 20, 18),
            (datetime(2024, 3, 5, tzinfo=UTC), 4, 2)]
    number = 0
    for start, n, chosen_a in plan:
        for i in range(n):
            number += 1
            case = f"C{number:02d}"
            reads += [read("A", case, ["SD"]), read("B", case, ["PR"])]
            adjudications.append(decided(case, "A", "B", 1 if i < chosen_a else 2, at=start + timedelta(hours=i)))
    return reads, adjudications


def test_p_chart_by_month_uses_the_pooled_centre_and_flags_points_outside_three_sigma():
    """Pooled centre: each decision selects one of its two readers, so p̄ = 44/88 = 0.5.
    n = 20: 3·sqrt(0.5·0.5/20) = 0.3354 -> limits 16.5 % and 83.5 %.
    A: Jan 4/20 = 20 % (inside), Feb 18/20 = 90 % (above: flagged), Mar n = 4: 3·0.25 = 0.75 -> limits
    clipped to 0 % and 100 %, 2/4 = 50 % inside. B mirrors A: Feb 2/20 = 10 % is below 16.5 %: flagged.
    """
    reads, adjudications = _monthly_decisions()
    report = compute_reader_metrics(reads, adjudications)
    chart_a, chart_b = report.p_charts
    assert chart_a.reader == "A" and chart_a.centre == Fraction(1, 2)
    assert [p.to_dict() for p in chart_a.points] == [
        {"label": "2024-01", "n": 20, "selected": 4, "percent": 20.0,
         "lower_limit_percent": 16.5, "upper_limit_percent": 83.5, "out_of_control": False},
        {"label": "2024-02", "n": 20, "selected": 18, "percent": 90.0,
         "lower_limit_percent": 16.5, "upper_limit_percent": 83.5, "out_of_control": True},
        {"label": "2024-03", "n": 4, "selected": 2, "percent": 50.0,
         "lower_limit_percent": 0.0, "upper_limit_percent": 100.0, "out_of_control": False},
    ]
    assert [(p.selected, p.out_of_control) for p in chart_b.points] == [(16, False), (2, True), (2, False)]


def test_p_chart_with_the_readers_own_centre():
    """A's own rate: (4 + 18 + 2) / 44 = 24/44 = 0.5455. n = 20: 3·sqrt(0.5455·0.4545/20) = 0.3340,
    limits 21.1 % and 87.9 %: Jan 20 % is below (flagged), Feb 90 % above (flagged).
    n = 4: 3·sqrt(0.2479/4) = 0.7469 -> clipped to 0 % and 100 %.
    """
    reads, adjudications = _monthly_decisions()
    chart_a = compute_reader_metrics(reads, adjudications, centre="reader").p_charts[0]
    assert chart_a.centre == Fraction(24, 44)
    assert chart_a.to_dict()["centre_percent"] == 54.5
    assert [(p.to_dict()["lower_limit_percent"], p.to_dict()["upper_limit_percent"], p.out_of_control)
            for p in chart_a.points] == [(21.1, 87.9, True), (21.1, 87.9, True), (0.0, 100.0, False)]


def test_p_chart_by_blocks_of_cases_in_decision_order():
    """Blocks of 20 of A's 44 decisions: 1-20, 21-40, 41-44 (the last block is short)."""
    reads, adjudications = _monthly_decisions()
    chart_a = compute_reader_metrics(reads, adjudications, p_chart_by="block", block_size=20).p_charts[0]
    assert [(p.label, p.n, p.selected) for p in chart_a.points] == [("1-20", 20, 4), ("21-40", 20, 18), ("41-44", 4, 2)]


def test_p_chart_months_are_utc_months():
    """Signed 2024-01-31 23:30 at UTC-5 is 2024-02-01 04:30 UTC: a February point."""
    east = timezone(timedelta(hours=-5))
    reads = [read("A", "C1", ["SD"]), read("B", "C1", ["PR"])]
    adjudications = [decided("C1", "A", "B", 1, at=datetime(2024, 1, 31, 23, 30, tzinfo=east))]
    chart = compute_reader_metrics(reads, adjudications).p_charts[0]
    assert [p.label for p in chart.points] == ["2024-02"]


def test_no_adjudications_gives_zero_rates_and_undefined_agreement():
    report = compute_reader_metrics([read("A", "C1", ["SD"]), read("B", "C1", ["SD"])])
    a = report.reader("A")
    assert a.adjudication_rate.to_dict() == {"numerator": 0, "denominator": 1, "percent": 0.0}
    assert a.adjudicator_agreement.to_dict() == {"numerator": 0, "denominator": 0, "percent": None}
    assert a.disagreement_index.percent == 0.0
    assert report.p_charts[0].centre is None and report.p_charts[0].points == ()


def test_one_reader_has_no_pair_and_no_adjudication_rate():
    report = compute_reader_metrics([read("A", "C1", ["SD", "PR"]), read("A", "C2", ["PD"])])
    assert report.pairs == ()
    a = report.reader("A")
    assert (a.cases_read, a.timepoints_read) == (2, 3)
    assert a.adjudication_rate.percent is None
    assert report.overall.adjudication_rate.percent is None


def test_empty_input_gives_an_empty_report_that_serializes():
    report = compute_reader_metrics([], [])
    data = report.to_dict()
    assert data["readers"] == [] and data["pairs"] == [] and data["p_charts"] == []
    assert data["overall"]["adjudication_rate"]["percent"] is None
    json.dumps(data)


def test_reads_without_signed_timepoints_are_not_counted():
    report = compute_reader_metrics([CaseRead("A", "C1", ()), read("B", "C1", ["SD"])])
    assert [r.reader for r in report.readers] == ["B"]
    assert report.overall.double_read_cases == 0


def test_report_to_dict_is_json_with_one_decimal_percentages():
    data = _rdi_world().to_dict()
    text = json.dumps(data)
    assert '"percent": 33.3' in text
    assert json.loads(text) == data


@pytest.mark.parametrize(
    ("reads", "adjudications", "message"),
    [
        ([read("A", "C1", ["SD"]), read("A", "C1", ["PR"])], [], "two reads by reader A"),
        ([read("A", "C1", ["SD"]), read("B", "C1", ["PR"])],
         [AdjudicationRecord("C1", "A", "B", AdjudicationState.DECIDED, 1, None, "measurement", T0)], "select slot 1 or 2"),
        ([read("A", "C1", ["SD"]), read("B", "C1", ["PR"])],
         [AdjudicationRecord("C1", "A", "B", AdjudicationState.DECIDED, 1, 1, "measurement", None)], "signing time"),
        ([read("A", "C1", ["SD"]), read("B", "C1", ["PR"])],
         [AdjudicationRecord("C1", "A", "B", AdjudicationState.DECIDED, 1, 1, "", T0)], "reason code"),
        ([read("A", "C1", ["SD"])], [decided("C1", "A", "B", 1)], "reader B has no signed read"),
        ([read("A", "C1", ["SD"])], [decided("C1", "A", "A", 1)], "same reader"),
    ],
)
def test_contradictory_input_is_refused_with_the_case_named(reads, adjudications, message):
    with pytest.raises(MetricsInputError, match=message):
        compute_reader_metrics(reads, adjudications)


def test_unknown_p_chart_options_are_refused():
    with pytest.raises(MetricsInputError, match="grouping"):
        compute_reader_metrics([], p_chart_by="week")  # type: ignore[arg-type]
    with pytest.raises(MetricsInputError, match="block size"):
        compute_reader_metrics([], p_chart_by="block", block_size=0)


def test_plain_strings_from_the_database_become_enums():
    reads = [CaseRead("A", "C1", (TimepointRead("W8", "PR", T0),), "PR"), CaseRead("B", "C1", (TimepointRead("W8", "SD", T0),), "SD")]
    record = AdjudicationRecord("C1", "A", "B", "decided", 1, 2, "measurement", T0)
    assert record.state is AdjudicationState.DECIDED and reads[0].timepoints[0].overall_response is R.PR
    report = compute_reader_metrics(reads, [record])
    assert report.reader("B").adjudicator_agreement.percent == 100.0
    with pytest.raises(ValueError, match="not a valid AdjudicationState"):
        AdjudicationRecord("C1", "A", "B", "closed")
