"""Timepoint rules: sums, nadir, target / non-target / overall response (rulebook §§3-7).

Every threshold is tested on exact values by cross-multiplication; percentages are only
computed (exactly) for output and rounded by `numbers.json_percent`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .baseline import NODE_PATHOLOGICAL_SHORT_AXIS_MM
from .model import (
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetResponse,
    NonTargetStatus,
    OverallResponse,
    RecistConfig,
    TargetResponse,
    TargetValue,
    TooSmall,
)

PD_MINIMUM_INCREASE_MM = Decimal(5)


def target_value_mm(value: TargetValue, config: RecistConfig) -> Decimal | None:
    """The millimetres a follow-up target entry counts for (§3).

    A measurement counts as measured, even below 5 mm; TOO_SMALL counts as 5 mm (also for a
    node); None (not assessed) stays None.
    """
    if isinstance(value, TooSmall):
        return config.too_small_mm
    return value


@dataclass(frozen=True)
class FollowUpSum:
    """The sum of diameters at one follow-up (§3 conventions).

    `sum_mm` is None whenever any target is missing; `measured_sum_mm` is the sum of the
    targets that were measured, which only feeds the PD test of §4.2 step 1.
    """

    sum_mm: Decimal | None
    measured_sum_mm: Decimal
    missing_targets: tuple[str, ...]


def followup_sum(baseline: Baseline, followup: FollowUp, config: RecistConfig) -> FollowUpSum:
    """Sum the follow-up diameters of the baseline targets (§2, §3)."""
    measured = Decimal(0)
    missing: list[str] = []
    for target in baseline.targets:
        value = target_value_mm(followup.targets.get(target.lesion_id), config)
        if value is None:
            missing.append(target.lesion_id)
        else:
            measured += value
    return FollowUpSum(
        sum_mm=None if missing else measured,
        measured_sum_mm=measured,
        missing_targets=tuple(missing),
    )


def nadir(baseline_sum: Decimal, earlier_sums: Sequence[Decimal | None]) -> Decimal:
    """The reference for PD at a follow-up: the smallest complete SoD among baseline and the
    earlier follow-ups (§4.1). The current follow-up is excluded; null sums never count."""
    return min([baseline_sum, *(s for s in earlier_sums if s is not None)])


def meets_pr_threshold(sum_mm: Decimal, baseline_sum: Decimal) -> bool:
    """PR: SoD at least 30 % below baseline, inclusive (§4.2): 10 x SoD <= 7 x baseline."""
    return 10 * sum_mm <= 7 * baseline_sum


def meets_pd_threshold(sum_mm: Decimal, nadir_mm: Decimal) -> bool:
    """PD: SoD at least 20 % and at least 5 mm above the nadir, both inclusive (§4.2).

    The 20 % test is 5 x SoD >= 6 x nadir; after a true CR (nadir 0) it always holds, so any
    target sum of 5 mm or more is PD.
    """
    return 5 * sum_mm >= 6 * nadir_mm and sum_mm - nadir_mm >= PD_MINIMUM_INCREASE_MM


def meets_target_cr(baseline: Baseline, followup: FollowUp, config: RecistConfig) -> bool:
    """CR: every non-nodal target is 0 mm and every nodal target is below 10 mm short axis (§4.2).

    A TOO_SMALL entry counts as 5 mm: below 10 mm for a node, but not 0 for a non-nodal lesion.
    """
    for target in baseline.targets:
        value = target_value_mm(followup.targets.get(target.lesion_id), config)
        if value is None:
            return False
        if target.is_node and value >= NODE_PATHOLOGICAL_SHORT_AXIS_MM:
            return False
        if not target.is_node and value != 0:
            return False
    return True


def target_response(
    baseline: Baseline, followup: FollowUp, nadir_mm: Decimal | None, config: RecistConfig
) -> TargetResponse:
    """Target response in the engine's evaluation order (§4.2).

    1. A target missing: PD if the measured targets alone already satisfy both PD conditions
       against the nadir (missing lesions can only add), otherwise NE.
    2. CR if every target meets the CR condition (checked before PD by default, so growth of
       target nodes that all stay below 10 mm is not PD; `cr_check_before_pd`).
    3. PD if both PD conditions hold against the nadir (beats PR).
    4. PR if the SoD is at least 30 % below baseline.
    5. Otherwise SD.
    """
    if not baseline.targets or nadir_mm is None:
        return TargetResponse.NA
    baseline_sum = sum((t.diameter_mm for t in baseline.targets), Decimal(0))
    current = followup_sum(baseline, followup, config)
    if current.sum_mm is None:
        if meets_pd_threshold(current.measured_sum_mm, nadir_mm):
            return TargetResponse.PD
        return TargetResponse.NE
    is_cr = meets_target_cr(baseline, followup, config)
    if is_cr and config.cr_check_before_pd:
        return TargetResponse.CR
    if meets_pd_threshold(current.sum_mm, nadir_mm):
        return TargetResponse.PD
    if is_cr:
        return TargetResponse.CR
    if meets_pr_threshold(current.sum_mm, baseline_sum):
        return TargetResponse.PR
    return TargetResponse.SD


def non_target_response(baseline: Baseline, followup: FollowUp) -> NonTargetResponse:
    """Non-target response (§5); precedence PD > NE > CR > Non-CR/Non-PD.

    NA without non-target disease at baseline. A not-evaluated lesion does not stop a PD call.
    """
    if not baseline.non_targets:
        return NonTargetResponse.NA
    statuses = [followup.non_targets.get(n.lesion_id) for n in baseline.non_targets]
    if NonTargetStatus.UNEQUIVOCAL_PD in statuses:
        return NonTargetResponse.PD
    if any(s is None or s is NonTargetStatus.NOT_EVALUATED for s in statuses):
        return NonTargetResponse.NE
    if all(s is NonTargetStatus.ABSENT for s in statuses):
        return NonTargetResponse.CR
    return NonTargetResponse.NON_CR_NON_PD


def overall_response_with_targets(
    target: TargetResponse, non_target: NonTargetResponse, new_lesions: NewLesions
) -> OverallResponse:
    """Overall response for patients with target disease: Table 1 of §7.1, first matching row.

    An equivocal new lesion is "No" here (§6). Target PR/SD with non-target CR is PR/SD
    (non-target CR is "non-PD" in the paper's Table 1).
    """
    if target is TargetResponse.PD:
        return OverallResponse.PD
    if non_target is NonTargetResponse.PD:
        return OverallResponse.PD
    if new_lesions is NewLesions.YES:
        return OverallResponse.PD
    if target is TargetResponse.NE:
        return OverallResponse.NE
    if target is TargetResponse.CR:
        if non_target in (NonTargetResponse.CR, NonTargetResponse.NA):
            return OverallResponse.CR
        return OverallResponse.PR
    if target is TargetResponse.PR:
        return OverallResponse.PR
    if target is TargetResponse.SD:
        return OverallResponse.SD
    raise ValueError(f"target response {target} has no row in Table 1")


def overall_response_non_target_only(
    non_target: NonTargetResponse, new_lesions: NewLesions
) -> OverallResponse:
    """Overall response for non-target disease only: Table 2 of §7.2, first matching row."""
    if non_target is NonTargetResponse.PD:
        return OverallResponse.PD
    if new_lesions is NewLesions.YES:
        return OverallResponse.PD
    if non_target is NonTargetResponse.NE:
        return OverallResponse.NE
    if non_target is NonTargetResponse.CR:
        return OverallResponse.CR
    if non_target is NonTargetResponse.NON_CR_NON_PD:
        return OverallResponse.NON_CR_NON_PD
    raise ValueError(f"non-target response {non_target} has no row in Table 2")


def overall_response(
    baseline: Baseline,
    target: TargetResponse,
    non_target: NonTargetResponse,
    new_lesions: NewLesions,
) -> OverallResponse:
    """Table 1 with target disease at baseline, Table 2 without (§7)."""
    if baseline.has_target_disease:
        return overall_response_with_targets(target, non_target, new_lesions)
    return overall_response_non_target_only(non_target, new_lesions)
