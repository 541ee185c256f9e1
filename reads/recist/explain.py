"""One-line explanations of computed responses, for the reads pages and review reports."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .model import (
    NewLesions,
    NonTargetResponse,
    NonTargetStatus,
    OverallResponse,
    TargetResponse,
    TimepointAssessment,
)
from .numbers import format_mm, format_signed_mm, round_half_away_from_zero

_PR_THRESHOLD = Fraction(-30)
_PD_THRESHOLD = Fraction(20)


def display_name(response: str) -> str:
    """The printed name of a response: "Non-CR/Non-PD" for NON_CR_NON_PD, else the code."""
    return "Non-CR/Non-PD" if response == "NON_CR_NON_PD" else str(response)


def _percent(value: Fraction, threshold: Fraction | None = None) -> str:
    """A signed percentage, with more decimals when one decimal would round onto a threshold
    the exact value misses (-29.96 % shows as "-29.96 %", not "-30.0 %")."""
    places = 1
    rounded = round_half_away_from_zero(value, places)
    while threshold is not None and value != threshold and rounded == threshold and places < 6:
        places += 1
        rounded = round_half_away_from_zero(value, places)
    sign = "+" if rounded > 0 else ""
    return f"{sign}{rounded} %"


def _ids(ids: list[str] | tuple[str, ...]) -> str:
    return ", ".join(ids)


def _over_nadir(amount: Decimal, nadir: Decimal) -> str:
    """ "+24.4 % and +11 mm over the nadir of 45 mm" (no percentage over a nadir of 0)."""
    difference = format_signed_mm(amount - nadir)
    if nadir == 0:
        return f"{difference} mm over the nadir of 0 mm"
    pct = (Fraction(amount) - Fraction(nadir)) * 100 / Fraction(nadir)
    return f"{_percent(pct, _PD_THRESHOLD)} and {difference} mm over the nadir of {format_mm(nadir)} mm"


def explain_target_response(tp: TimepointAssessment) -> str:
    """One line saying why the target response is what it is (§4.2),
    e.g. "PD: sum 56 mm is +24.4 % and +11 mm over the nadir of 45 mm"."""
    response = tp.target_response
    if response is TargetResponse.NA or tp.nadir_mm is None or tp.baseline_sum_mm is None:
        return "NA: no target lesions at baseline"
    nadir = tp.nadir_mm
    if tp.sum_mm is None:
        measured = tp.measured_sum_mm or Decimal(0)
        missing = f"target{'s' if len(tp.missing_targets) > 1 else ''} {_ids(tp.missing_targets)} not assessed"
        if response is TargetResponse.PD:
            return (
                f"PD: {missing}, but the measured targets alone sum to {format_mm(measured)} mm, "
                f"{_over_nadir(measured, nadir)}"
            )
        return (
            f"NE: {missing}; the measured targets sum to {format_mm(measured)} mm, which does not "
            f"prove PD against the nadir of {format_mm(nadir)} mm"
        )
    total = tp.sum_mm
    if response is TargetResponse.PD:
        return f"PD: sum {format_mm(total)} mm is {_over_nadir(total, nadir)}"
    if response is TargetResponse.CR:
        if total == 0:
            return "CR: every target lesion has disappeared (0 mm)"
        return (
            f"CR: every non-nodal target is 0 mm and every target node is below 10 mm short axis "
            f"(sum {format_mm(total)} mm)"
        )
    assert tp.pct_change_from_baseline is not None
    from_baseline = (
        f"sum {format_mm(total)} mm is {_percent(tp.pct_change_from_baseline, _PR_THRESHOLD)} "
        f"from the baseline of {format_mm(tp.baseline_sum_mm)} mm"
    )
    if response is TargetResponse.PR:
        return f"PR: {from_baseline} (PR needs -30 % or less)"
    if total <= nadir:
        return f"SD: {from_baseline} (PR needs -30 %), and no growth over the nadir of {format_mm(nadir)} mm"
    return (
        f"SD: {from_baseline} (PR needs -30 %) and {_over_nadir(total, nadir)} "
        f"(PD needs +20 % and +5 mm)"
    )


def explain_non_target_response(tp: TimepointAssessment) -> str:
    """One line saying why the non-target response is what it is (§5)."""
    response = tp.non_target_response
    statuses = tp.followup.non_targets
    if response is NonTargetResponse.NA:
        return "NA: no non-target lesions at baseline"
    if response is NonTargetResponse.PD:
        ids = [i for i, s in statuses.items() if s is NonTargetStatus.UNEQUIVOCAL_PD]
        return f"PD: unequivocal progression of non-target {_ids(ids)}"
    if response is NonTargetResponse.NE:
        ids = [i for i, s in statuses.items() if s is NonTargetStatus.NOT_EVALUATED]
        return f"NE: non-target {_ids(ids) or 'lesions'} not evaluated"
    if response is NonTargetResponse.CR:
        return "CR: every non-target lesion is gone (nodes below 10 mm short axis)"
    ids = [i for i, s in statuses.items() if s is NonTargetStatus.PRESENT]
    verb = "persist" if len(ids) > 1 else "persists"
    return f"Non-CR/Non-PD: non-target {_ids(ids)} {verb} without unequivocal progression"


def _new_lesion_words(new_lesions: NewLesions) -> str:
    if new_lesions is NewLesions.EQUIVOCAL:
        return "an equivocal new lesion (not PD unless a later scan confirms it)"
    return "no new lesion"


def explain_overall_response(tp: TimepointAssessment) -> str:
    """One line naming the row of Table 1 (§7.1) or Table 2 (§7.2) that gave the overall response."""
    response = tp.overall_response
    target, non_target, new = tp.target_response, tp.non_target_response, tp.new_lesions
    with_targets = target is not TargetResponse.NA
    if response is OverallResponse.PD:
        reasons = []
        if target is TargetResponse.PD:
            reasons.append("target response PD")
        if non_target is NonTargetResponse.PD:
            reasons.append("unequivocal non-target progression")
        if new is NewLesions.YES:
            reasons.append("an unequivocal new lesion")
        return f"PD: {' and '.join(reasons)}"
    parts = []
    if with_targets:
        parts.append(f"target {display_name(target)}")
    parts.append(f"non-target {display_name(non_target)}")
    parts.append(_new_lesion_words(new))
    table = "Table 1" if with_targets else "Table 2"
    summary = ", ".join(parts)
    if response is OverallResponse.NE:
        if with_targets:
            return f"NE: a target was not assessed and PD is not proven ({summary}; {table})"
        return f"NE: a non-target was not evaluated ({summary}; {table})"
    if response is OverallResponse.PR and target is TargetResponse.CR:
        return f"PR: targets are in CR but non-target disease is not ({summary}; {table})"
    return f"{display_name(response)}: {summary} ({table})"
