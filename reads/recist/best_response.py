"""Participant rules: progression date (§6, §9) and best overall response (§8).

All of them work on the timepoint responses the engine computed (which stay as locked, §6
"Our convention"); back-dating only changes how timepoints count for BOR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .model import NewLesions, OverallResponse, RecistConfig, TimepointAssessment

_SD_LEVEL = (OverallResponse.SD, OverallResponse.NON_CR_NON_PD)
_RESPONSES = (OverallResponse.CR, OverallResponse.PR)


@dataclass(frozen=True)
class Progression:
    """When progression happened: `dated_index` is the timepoint its date comes from,
    `declared_index` the first timepoint whose overall response is PD (§9)."""

    dated_index: int
    declared_index: int
    weeks: Decimal

    @property
    def is_backdated(self) -> bool:
        return self.dated_index != self.declared_index


def equivocal_lesion_first_seen(
    timepoints: Sequence[TimepointAssessment], confirming_index: int
) -> int | None:
    """The first timepoint of the unbroken run of EQUIVOCAL new-lesion timepoints just before
    `confirming_index`, or None when the timepoint before it was not EQUIVOCAL (§6).

    A timepoint without the lesion ("NO") ends a run: the equivocal lesion resolved.
    """
    first: int | None = None
    index = confirming_index - 1
    while index >= 0 and timepoints[index].new_lesions is NewLesions.EQUIVOCAL:
        first = index
        index -= 1
    return first


def find_progression(timepoints: Sequence[TimepointAssessment]) -> Progression | None:
    """The progression of §9: the first timepoint whose overall response is PD, or the first
    scan of an equivocal new lesion that a later scan confirms as unequivocal (§6), whichever
    is earlier. None when there is no progression.
    """
    declared = next(
        (tp.index for tp in timepoints if tp.overall_response is OverallResponse.PD), None
    )
    if declared is None:
        return None
    dated = declared
    for tp in timepoints:
        if tp.new_lesions is NewLesions.YES:
            first_seen = equivocal_lesion_first_seen(timepoints, tp.index)
            if first_seen is not None and first_seen < dated:
                dated = first_seen
    return Progression(dated_index=dated, declared_index=declared, weeks=timepoints[dated].weeks)


@dataclass(frozen=True)
class CountedResponse:
    """One timepoint as it counts for BOR: its week and its response, PD on or after the
    progression date (§6 "Our convention")."""

    weeks: Decimal
    response: OverallResponse


def responses_counted_for_best_response(
    timepoints: Sequence[TimepointAssessment], progression: Progression | None
) -> list[CountedResponse]:
    """The timepoints BOR looks at: from the first follow-up up to the first PD, inclusive;
    later timepoints are ignored (§8). Every timepoint on or after a back-dated progression
    date counts as PD (§6)."""
    counted: list[CountedResponse] = []
    for tp in timepoints:
        response = tp.overall_response
        if progression is not None and tp.weeks >= progression.weeks:
            response = OverallResponse.PD
        counted.append(CountedResponse(tp.weeks, response))
        if response is OverallResponse.PD:
            break
    return counted


def meets_sd_minimum(weeks: Decimal, response: OverallResponse, config: RecistConfig) -> bool:
    """SD (and by default Non-CR/Non-PD) counts only at or after the protocol minimum from
    baseline, inclusive, less the visit window (§8, §11: 6 weeks, window 0)."""
    if response is OverallResponse.NON_CR_NON_PD and not config.sd_min_applies_to_non_cr_non_pd:
        return True
    return weeks >= config.sd_min_weeks - config.visit_window_weeks


def _up_to_first_pd(counted: Sequence[CountedResponse]) -> list[CountedResponse]:
    """BOR ignores everything after the first PD (§8)."""
    kept: list[CountedResponse] = []
    for c in counted:
        kept.append(c)
        if c.response is OverallResponse.PD:
            break
    return kept


def _stable_disease_label(has_target_disease: bool) -> OverallResponse:
    """Without measurable disease the SD level is called Non-CR/Non-PD (§7.2)."""
    return OverallResponse.SD if has_target_disease else OverallResponse.NON_CR_NON_PD


def best_overall_response_unconfirmed(
    counted: Sequence[CountedResponse], *, has_target_disease: bool, config: RecistConfig
) -> OverallResponse:
    """BOR without confirmation (§8.1): CR if any CR; else PR if any PR; else SD (Non-CR/Non-PD)
    if documented at or after the SD minimum; else PD if PD occurred; else NE."""
    counted = _up_to_first_pd(counted)
    responses = [c.response for c in counted]
    if OverallResponse.CR in responses:
        return OverallResponse.CR
    if OverallResponse.PR in responses:
        return OverallResponse.PR
    for c in counted:
        if c.response in _SD_LEVEL and meets_sd_minimum(c.weeks, c.response, config):
            return c.response
    if OverallResponse.PD in responses:
        return OverallResponse.PD
    return OverallResponse.NE


def is_response_confirmed(
    counted: Sequence[CountedResponse],
    index: int,
    confirming: tuple[OverallResponse, ...],
    config: RecistConfig,
) -> bool:
    """Whether the response at `index` is confirmed by a later timepoint (§8.2 engine rules).

    Timepoints less than the confirmation interval later are skipped, not disqualifying. The
    first later timepoint at or after the interval must be in `confirming` (CR for CR; CR or PR
    for PR), except that an intervening NE is passed over (`intervening_ne_allowed`, default
    yes) and so is an intervening SD only when `intervening_sd_allowed` (default no). A PD
    ends the search.
    """
    start = counted[index].weeks
    for later in counted[index + 1 :]:
        if later.response is OverallResponse.PD:
            return False
        if later.weeks - start < config.confirmation_min_weeks:
            continue
        if later.response is OverallResponse.NE and config.intervening_ne_allowed:
            continue
        if later.response in _SD_LEVEL and config.intervening_sd_allowed:
            continue
        return later.response in confirming
    return False


def best_overall_response_confirmed(
    counted: Sequence[CountedResponse], *, has_target_disease: bool, config: RecistConfig
) -> OverallResponse:
    """BOR with confirmation (§8.2, Table 3).

    CR if a CR is confirmed by a later CR; else PR if a PR or CR is confirmed by a later PR or
    CR; else SD (Non-CR/Non-PD without targets) if SD, Non-CR/Non-PD or an unconfirmed CR/PR is
    documented at or after the SD minimum; else PD if PD occurred; else NE.
    """
    counted = _up_to_first_pd(counted)
    for i, c in enumerate(counted):
        if c.response is OverallResponse.CR and is_response_confirmed(
            counted, i, (OverallResponse.CR,), config
        ):
            return OverallResponse.CR
    for i, c in enumerate(counted):
        if c.response in _RESPONSES and is_response_confirmed(counted, i, _RESPONSES, config):
            return OverallResponse.PR
    stable = _stable_disease_label(has_target_disease)
    for c in counted:
        if c.response in _SD_LEVEL and meets_sd_minimum(c.weeks, c.response, config):
            return stable
        if c.response in _RESPONSES and meets_sd_minimum(c.weeks, stable, config):
            return stable
    if any(c.response is OverallResponse.PD for c in counted):
        return OverallResponse.PD
    return OverallResponse.NE
