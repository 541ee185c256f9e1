"""Reader performance metrics of reads.md "Reader metrics", computed from read outcomes (pure, no Django).

What the Django layer passes in (one trial at a time):

- `CaseRead` per reader and case that reader has signed at least one timepoint of: `reader` is a
  stable key of the reader in this trial (a user id or the reader's pseudonym; the output uses
  it as given, so the caller decides what a viewer sees), `case` the read case's code,
  `timepoints` the SIGNED timepoints in the case's reading order, each with its stable key (the
  schedule timepoint's code, equal for both readers), the engine's overall response, the
  signing time and the active seconds recorded on the task (or its start time), and
  `best_response` the engine's best overall response of that read (None while incomplete).
  Unsigned tasks are not read outcomes and are left out.
- `AdjudicationRecord` per adjudication round: the case, the readers in slot 1 and slot 2, the
  round's state (`open`, `decided`, `superseded`, `void` for a decision voided by a re-opened
  read), and for a decision the selected slot, the reason code and the signing time.

`compute_reader_metrics(reads, adjudications)` returns a `ReaderMetricsReport`; `to_dict()`
gives JSON with percentages rounded to one decimal (half away from zero) and kappa to three.

Definitions (the choices the spec left open are marked *):

- A case is *adjudicated* when it has a round that is open, decided or superseded (a trigger
  hit that still stands*); void rounds do not count. The *governing decision* of a case is its
  latest round in state `decided` (by signing time, then round number).
- Adjudication rate = adjudicated cases / cases read by both readers (for a reader: among the
  cases this reader read that another reader read too).
- Adjudicator agreement rate = cases whose governing decision selected this reader / cases
  with a governing decision that this reader was one of the two readers of.
- Reader disagreement index (RDI) = cases whose governing decision selected the other reader /
  all cases this reader read x 100 (single-read cases included in the denominator*).
- Discordance reasons: counts of the governing decisions' reason codes.
- Percent agreement and Cohen's kappa, per reader pair, on the overall response of every
  timepoint both readers signed (matched by timepoint key) and on the best response of every
  shared case where both have one. Kappa = (po - pe) / (1 - pe) with pe from each reader's own
  marginals; it is None (undefined*) when nothing was compared or when pe = 1 (both readers
  used one and the same category throughout, so chance agreement is already perfect).
- Pairs are listed only when the two readers share at least one case*.
- p-chart of each reader's adjudicator agreement over time: each point is a month of the
  decision's signing time (UTC) or a block of N consecutive decisions; p_i = selected / n_i.
  The centre line p̄ is by default pooled over every reader's decisions* (every decision
  selects one of its two readers, so it is 50 % whenever each decision concerns two readers of
  the report, which is the point: a reader the adjudicator sides with significantly less often
  than with the others falls below the lower limit); `centre="reader"` uses the reader's own
  overall rate (a classic stability chart). Limits per point: p̄ ± 3·sqrt(p̄(1 - p̄) / n_i),
  clipped to [0, 1]; a point strictly outside its limits is flagged.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction
from itertools import combinations
from typing import Any, Literal

from reads.recist.model import OverallResponse
from reads.recist.numbers import round_half_away_from_zero

__all__ = [
    "AdjudicationRecord",
    "AdjudicationState",
    "Agreement",
    "CaseRead",
    "MetricsInputError",
    "OverallMetrics",
    "PChart",
    "PChartPoint",
    "PairMetrics",
    "Ratio",
    "ReaderMetrics",
    "ReaderMetricsReport",
    "TimepointRead",
    "cohen_kappa",
    "compute_reader_metrics",
    "p_chart",
]


class MetricsInputError(ValueError):
    """The read outcomes contradict each other (the message says which case and why)."""


class AdjudicationState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    SUPERSEDED = "superseded"
    VOID = "void"


@dataclass(frozen=True)
class TimepointRead:
    """One signed timepoint of one reader's read of a case."""

    timepoint: str
    overall_response: OverallResponse
    signed_at: datetime
    active_seconds: float | None = None
    started_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "overall_response", OverallResponse(self.overall_response))

    @property
    def read_seconds(self) -> float | None:
        """Active seconds when recorded, otherwise start to signature; None when neither is known."""
        if self.active_seconds is not None:
            return float(self.active_seconds)
        if self.started_at is not None:
            return (self.signed_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class CaseRead:
    """One reader's signed timepoints of one case, in the case's reading order."""

    reader: str
    case: str
    timepoints: tuple[TimepointRead, ...]
    best_response: OverallResponse | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "timepoints", tuple(self.timepoints))
        if self.best_response is not None:
            object.__setattr__(self, "best_response", OverallResponse(self.best_response))


@dataclass(frozen=True)
class AdjudicationRecord:
    """One adjudication round of a case (slot 1 = Reader 1, slot 2 = Reader 2)."""

    case: str
    reader_1: str
    reader_2: str
    state: AdjudicationState
    round: int = 1
    selected_slot: int | None = None
    reason_code: str | None = None
    decided_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", AdjudicationState(self.state))

    @property
    def selected_reader(self) -> str | None:
        if self.selected_slot == 1:
            return self.reader_1
        if self.selected_slot == 2:
            return self.reader_2
        return None

    def other_reader(self, reader: str) -> str:
        return self.reader_2 if reader == self.reader_1 else self.reader_1


def _percent(value: Fraction | None) -> float | None:
    if value is None:
        return None
    return float(round_half_away_from_zero(value * 100, 1))


def _round(value: Fraction | float | None, places: int) -> float | None:
    if value is None:
        return None
    return float(round_half_away_from_zero(Fraction(value), places))


@dataclass(frozen=True)
class Ratio:
    """A count over a count; `value` is None when the denominator is 0 (nothing to rate)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        if self.denominator == 0:
            return None
        return Fraction(self.numerator, self.denominator)

    @property
    def percent(self) -> float | None:
        return _percent(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "percent": self.percent}


@dataclass(frozen=True)
class Agreement:
    """Agreement of two readers over `n` paired ratings: percent agreement and Cohen's kappa."""

    n: int
    agreements: int
    observed: Fraction | None
    expected: Fraction | None
    kappa: Fraction | None

    @property
    def percent_agreement(self) -> float | None:
        return _percent(self.observed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "agreements": self.agreements,
            "percent_agreement": self.percent_agreement,
            "expected_agreement_percent": _percent(self.expected),
            "kappa": _round(self.kappa, 3),
        }


def cohen_kappa(pairs: Iterable[tuple[str, str]]) -> Agreement:
    """Percent agreement and Cohen's kappa of paired categorical ratings (exact arithmetic).

    kappa = (po - pe) / (1 - pe), po the share of pairs that agree, pe = sum over categories of
    the product of the two raters' shares of that category. None when there are no pairs or
    pe = 1 (undefined: chance alone already explains perfect agreement).
    """
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return Agreement(0, 0, None, None, None)
    agreements = sum(1 for first, second in pairs if first == second)
    first_counts = Counter(first for first, _ in pairs)
    second_counts = Counter(second for _, second in pairs)
    observed = Fraction(agreements, n)
    expected = sum(
        (Fraction(first_counts[c] * second_counts[c], n * n) for c in first_counts.keys() & second_counts.keys()),
        Fraction(0),
    )
    kappa = None if expected == 1 else (observed - expected) / (1 - expected)
    return Agreement(n, agreements, observed, expected, kappa)


@dataclass(frozen=True)
class PChartPoint:
    label: str
    n: int
    selected: int
    p: Fraction
    lower_limit: float
    upper_limit: float
    out_of_control: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n": self.n,
            "selected": self.selected,
            "percent": _percent(self.p),
            "lower_limit_percent": _round(self.lower_limit * 100, 1),
            "upper_limit_percent": _round(self.upper_limit * 100, 1),
            "out_of_control": self.out_of_control,
        }


@dataclass(frozen=True)
class PChart:
    reader: str
    centre: Fraction | None
    points: tuple[PChartPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "centre_percent": _percent(self.centre),
            "points": [point.to_dict() for point in self.points],
        }


def p_chart(reader: str, groups: Sequence[tuple[str, int, int]], centre: Fraction | None) -> PChart:
    """A p-chart from (label, n, selected) groups around `centre` with 3-sigma limits per point.

    Limits are centre ± 3·sqrt(centre·(1 - centre)/n), clipped to [0, 1]; a point strictly
    outside them is out of control. Without a centre (no decisions at all) there are no points.
    """
    if centre is None:
        return PChart(reader, None, ())
    points = []
    for label, n, selected in groups:
        sigma = math.sqrt(float(centre * (1 - centre)) / n)
        lower = max(0.0, float(centre) - 3 * sigma)
        upper = min(1.0, float(centre) + 3 * sigma)
        p = Fraction(selected, n)
        points.append(PChartPoint(label, n, selected, p, lower, upper, p < lower or p > upper))
    return PChart(reader, centre, tuple(points))


@dataclass(frozen=True)
class ReaderMetrics:
    reader: str
    cases_read: int
    timepoints_read: int
    median_read_seconds: float | None
    adjudication_rate: Ratio
    adjudicator_agreement: Ratio
    disagreement_index: Ratio
    discordance_reasons: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "cases_read": self.cases_read,
            "timepoints_read": self.timepoints_read,
            "median_read_seconds": _round(self.median_read_seconds, 1),
            "adjudication_rate": self.adjudication_rate.to_dict(),
            "adjudicator_agreement_rate": self.adjudicator_agreement.to_dict(),
            # RDI is a percentage of the reader's cases, so its percent is the index itself.
            "reader_disagreement_index": self.disagreement_index.to_dict(),
            "discordance_reasons": dict(sorted(self.discordance_reasons.items())),
        }


@dataclass(frozen=True)
class PairMetrics:
    """Two readers who share cases; `readers` is sorted, so a pair has one spelling."""

    readers: tuple[str, str]
    cases_read_by_both: int
    adjudication_rate: Ratio
    decisions: int
    selected: dict[str, int]
    discordance_reasons: dict[str, int]
    timepoint_agreement: Agreement
    best_response_agreement: Agreement

    def to_dict(self) -> dict[str, Any]:
        return {
            "readers": list(self.readers),
            "cases_read_by_both": self.cases_read_by_both,
            "adjudication_rate": self.adjudication_rate.to_dict(),
            "decisions": self.decisions,
            "selected": dict(sorted(self.selected.items())),
            "discordance_reasons": dict(sorted(self.discordance_reasons.items())),
            "timepoint_response_agreement": self.timepoint_agreement.to_dict(),
            "best_response_agreement": self.best_response_agreement.to_dict(),
        }


@dataclass(frozen=True)
class OverallMetrics:
    cases_read: int
    double_read_cases: int
    adjudication_rate: Ratio
    decisions: int
    open_adjudications: int
    discordance_reasons: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases_read": self.cases_read,
            "double_read_cases": self.double_read_cases,
            "adjudication_rate": self.adjudication_rate.to_dict(),
            "decisions": self.decisions,
            "open_adjudications": self.open_adjudications,
            "discordance_reasons": dict(sorted(self.discordance_reasons.items())),
        }


@dataclass(frozen=True)
class ReaderMetricsReport:
    overall: OverallMetrics
    readers: tuple[ReaderMetrics, ...]
    pairs: tuple[PairMetrics, ...]
    p_charts: tuple[PChart, ...]
    p_chart_grouping: str = field(default="month")

    def reader(self, key: str) -> ReaderMetrics:
        return next(r for r in self.readers if r.reader == key)

    def pair(self, first: str, second: str) -> PairMetrics | None:
        wanted = tuple(sorted((first, second)))
        return next((p for p in self.pairs if p.readers == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "readers": [r.to_dict() for r in self.readers],
            "pairs": [p.to_dict() for p in self.pairs],
            "p_chart_grouping": self.p_chart_grouping,
            "p_charts": [c.to_dict() for c in self.p_charts],
        }


def _utc_month(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def _decision_order(record: AdjudicationRecord) -> tuple[datetime, int]:
    assert record.decided_at is not None
    return (record.decided_at, record.round)


def _index_reads(reads: Iterable[CaseRead]) -> dict[str, dict[str, CaseRead]]:
    by_case: dict[str, dict[str, CaseRead]] = defaultdict(dict)
    for read in reads:
        if not read.timepoints:
            continue
        if read.reader in by_case[read.case]:
            raise MetricsInputError(f"case {read.case}: two reads by reader {read.reader}")
        keys = [tp.timepoint for tp in read.timepoints]
        if len(set(keys)) != len(keys):
            raise MetricsInputError(f"case {read.case}: reader {read.reader} has a timepoint twice")
        by_case[read.case][read.reader] = read
    return by_case


def _check_adjudications(
    adjudications: Iterable[AdjudicationRecord], by_case: dict[str, dict[str, CaseRead]]
) -> list[AdjudicationRecord]:
    checked = []
    for record in adjudications:
        where = f"case {record.case} round {record.round}"
        state = record.state
        if record.reader_1 == record.reader_2:
            raise MetricsInputError(f"{where}: slot 1 and slot 2 are the same reader")
        if state is AdjudicationState.DECIDED:
            if record.selected_slot not in (1, 2):
                raise MetricsInputError(f"{where}: a decision must select slot 1 or 2")
            if record.decided_at is None:
                raise MetricsInputError(f"{where}: a decision needs its signing time")
            if not record.reason_code:
                raise MetricsInputError(f"{where}: a decision needs its reason code")
            readers = by_case.get(record.case, {})
            missing = [r for r in (record.reader_1, record.reader_2) if r not in readers]
            if missing:
                raise MetricsInputError(f"{where}: decided, but reader {missing[0]} has no signed read of the case")
        checked.append(record)
    return checked


def compute_reader_metrics(
    reads: Iterable[CaseRead],
    adjudications: Iterable[AdjudicationRecord] = (),
    *,
    p_chart_by: Literal["month", "block"] = "month",
    block_size: int = 20,
    centre: Literal["pooled", "reader"] = "pooled",
) -> ReaderMetricsReport:
    """Every metric of reads.md "Reader metrics" for one trial (definitions in the module docstring).

    Raises MetricsInputError for contradictory input (a reader twice on a case, a decision
    without a selected slot or time, a decision naming a reader with no read of the case).
    """
    if p_chart_by not in ("month", "block"):
        raise MetricsInputError(f"p-chart grouping must be 'month' or 'block', not {p_chart_by!r}")
    if centre not in ("pooled", "reader"):
        raise MetricsInputError(f"p-chart centre must be 'pooled' or 'reader', not {centre!r}")
    if p_chart_by == "block" and block_size < 1:
        raise MetricsInputError("block size must be at least 1")
    by_case = _index_reads(reads)
    records = _check_adjudications(adjudications, by_case)

    standing: set[str] = set()
    open_cases: set[str] = set()
    governing: dict[str, AdjudicationRecord] = {}
    for record in records:
        if record.state is AdjudicationState.VOID:
            continue
        standing.add(record.case)
        if record.state is AdjudicationState.OPEN:
            open_cases.add(record.case)
        if record.state is AdjudicationState.DECIDED:
            current = governing.get(record.case)
            if current is None or _decision_order(record) > _decision_order(current):
                governing[record.case] = record

    cases_of: dict[str, set[str]] = defaultdict(set)
    for case, readers in by_case.items():
        for reader in readers:
            cases_of[reader].add(case)
    double_cases = {case for case, readers in by_case.items() if len(readers) >= 2}
    decisions_of: dict[str, list[AdjudicationRecord]] = defaultdict(list)
    for decision in governing.values():
        decisions_of[decision.reader_1].append(decision)
        decisions_of[decision.reader_2].append(decision)

    reader_rows = []
    for reader in sorted(cases_of):
        cases = cases_of[reader]
        reads_of_reader = [by_case[case][reader] for case in cases]
        seconds = [s for read in reads_of_reader for tp in read.timepoints if (s := tp.read_seconds) is not None]
        shared = cases & double_cases
        decided = decisions_of[reader]
        selected = sum(1 for d in decided if d.selected_reader == reader)
        reader_rows.append(
            ReaderMetrics(
                reader=reader,
                cases_read=len(cases),
                timepoints_read=sum(len(read.timepoints) for read in reads_of_reader),
                median_read_seconds=statistics.median(seconds) if seconds else None,
                adjudication_rate=Ratio(len(shared & standing), len(shared)),
                adjudicator_agreement=Ratio(selected, len(decided)),
                disagreement_index=Ratio(len(decided) - selected, len(cases)),
                discordance_reasons=dict(Counter(str(d.reason_code) for d in decided)),
            )
        )

    pair_rows = []
    shared_by_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in sorted(double_cases):
        for first, second in combinations(sorted(by_case[case]), 2):
            shared_by_pair[(first, second)].append(case)
    for (first, second), shared_cases in sorted(shared_by_pair.items()):
        timepoint_pairs: list[tuple[str, str]] = []
        best_pairs: list[tuple[str, str]] = []
        for case in shared_cases:
            read_1, read_2 = by_case[case][first], by_case[case][second]
            responses_2 = {tp.timepoint: tp.overall_response for tp in read_2.timepoints}
            timepoint_pairs.extend(
                (str(tp.overall_response), str(responses_2[tp.timepoint]))
                for tp in read_1.timepoints
                if tp.timepoint in responses_2
            )
            if read_1.best_response is not None and read_2.best_response is not None:
                best_pairs.append((str(read_1.best_response), str(read_2.best_response)))
        pair_decisions = [
            governing[case]
            for case in shared_cases
            if case in governing and {governing[case].reader_1, governing[case].reader_2} == {first, second}
        ]
        pair_rows.append(
            PairMetrics(
                readers=(first, second),
                cases_read_by_both=len(shared_cases),
                adjudication_rate=Ratio(sum(1 for case in shared_cases if case in standing), len(shared_cases)),
                decisions=len(pair_decisions),
                selected={r: sum(1 for d in pair_decisions if d.selected_reader == r) for r in (first, second)},
                discordance_reasons=dict(Counter(str(d.reason_code) for d in pair_decisions)),
                timepoint_agreement=cohen_kappa(timepoint_pairs),
                best_response_agreement=cohen_kappa(best_pairs),
            )
        )

    charts = _p_charts(sorted(cases_of), decisions_of, p_chart_by, block_size, centre)
    overall = OverallMetrics(
        cases_read=len(by_case),
        double_read_cases=len(double_cases),
        adjudication_rate=Ratio(len(double_cases & standing), len(double_cases)),
        decisions=len(governing),
        open_adjudications=len(open_cases),
        discordance_reasons=dict(Counter(str(d.reason_code) for d in governing.values())),
    )
    return ReaderMetricsReport(overall, tuple(reader_rows), tuple(pair_rows), charts, p_chart_by)


def _p_charts(
    readers: Sequence[str],
    decisions_of: dict[str, list[AdjudicationRecord]],
    by: str,
    block_size: int,
    centre: str,
) -> tuple[PChart, ...]:
    total = sum(len(decisions_of[r]) for r in readers)
    total_selected = sum(1 for r in readers for d in decisions_of[r] if d.selected_reader == r)
    pooled = Fraction(total_selected, total) if total else None
    charts = []
    for reader in readers:
        decided = sorted(decisions_of[reader], key=lambda d: (*_decision_order(d), d.case))
        groups: list[tuple[str, int, int]] = []
        if by == "month":
            months: dict[str, list[AdjudicationRecord]] = defaultdict(list)
            for decision in decided:
                assert decision.decided_at is not None
                months[_utc_month(decision.decided_at)].append(decision)
            chunks = sorted(months.items())
        else:
            chunks = [
                (f"{start + 1}-{start + len(decided[start : start + block_size])}", decided[start : start + block_size])
                for start in range(0, len(decided), block_size)
            ]
        for label, chunk in chunks:
            groups.append((label, len(chunk), sum(1 for d in chunk if d.selected_reader == reader)))
        if centre == "reader":
            own = Fraction(sum(g[2] for g in groups), sum(g[1] for g in groups)) if groups else None
            charts.append(p_chart(reader, groups, own))
        else:
            charts.append(p_chart(reader, groups, pooled))
    return tuple(charts)
