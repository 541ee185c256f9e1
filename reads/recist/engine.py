"""The RECIST 1.1 engine: one reader's baseline and follow-ups in, every derived result out."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .baseline import baseline_sum_of_diameters
from .best_response import (
    best_overall_response_confirmed,
    best_overall_response_unconfirmed,
    find_progression,
    responses_counted_for_best_response,
)
from .model import (
    Baseline,
    FollowUp,
    ParticipantAssessment,
    RecistConfig,
    TimepointAssessment,
)
from .numbers import percent_change
from .responses import (
    followup_sum,
    nadir,
    non_target_response,
    overall_response,
    target_response,
)
from .validation import RecistValidationError, validate_participant


def assess_timepoints(
    baseline: Baseline, followups: Sequence[FollowUp], config: RecistConfig
) -> tuple[TimepointAssessment, ...]:
    """Compute sums, nadir, percentages and the three responses for every follow-up, in order
    (§§3-7). The nadir of follow-up k uses only baseline and follow-ups 1..k-1 (§4.1)."""
    baseline_sum = baseline_sum_of_diameters(baseline.targets)
    earlier_sums: list[Decimal | None] = []
    assessed: list[TimepointAssessment] = []
    for index, followup in enumerate(followups):
        current = followup_sum(baseline, followup, config)
        reference = None if baseline_sum is None else nadir(baseline_sum, earlier_sums)
        sum_mm = current.sum_mm if baseline_sum is not None else None
        target = target_response(baseline, followup, reference, config)
        non_target = non_target_response(baseline, followup)
        assessed.append(
            TimepointAssessment(
                index=index,
                followup=followup,
                baseline_sum_mm=baseline_sum,
                sum_mm=sum_mm,
                measured_sum_mm=current.measured_sum_mm if baseline_sum is not None else None,
                missing_targets=current.missing_targets,
                nadir_mm=reference,
                pct_change_from_baseline=(
                    None
                    if sum_mm is None or baseline_sum is None
                    else percent_change(sum_mm, baseline_sum)
                ),
                pct_change_from_nadir=(
                    None
                    if sum_mm is None or reference is None
                    else percent_change(sum_mm, reference)
                ),
                target_response=target,
                non_target_response=non_target,
                overall_response=overall_response(
                    baseline, target, non_target, followup.new_lesions
                ),
            )
        )
        earlier_sums.append(sum_mm)
    return tuple(assessed)


def assess_participant(
    baseline: Baseline,
    followups: Sequence[FollowUp],
    config: RecistConfig | None = None,
    *,
    validate: bool = True,
) -> ParticipantAssessment:
    """Everything the rulebook derives for one participant as read by one reader.

    Raises RecistValidationError (listing every problem) when the input breaks a rule of
    §§1-3 and `validate` is true; pass `validate=False` only for data already validated.
    """
    config = config or RecistConfig()
    if validate:
        issues = validate_participant(baseline, followups)
        if issues:
            raise RecistValidationError(issues)
    timepoints = assess_timepoints(baseline, followups, config)
    progression = find_progression(timepoints)
    counted = responses_counted_for_best_response(timepoints, progression)
    has_targets = baseline.has_target_disease
    return ParticipantAssessment(
        baseline=baseline,
        config=config,
        baseline_sum_mm=baseline_sum_of_diameters(baseline.targets),
        timepoints=timepoints,
        best_overall_response_unconfirmed=best_overall_response_unconfirmed(
            counted, has_target_disease=has_targets, config=config
        ),
        best_overall_response_confirmed=best_overall_response_confirmed(
            counted, has_target_disease=has_targets, config=config
        ),
        progression_weeks=None if progression is None else progression.weeks,
        progression_index=None if progression is None else progression.dated_index,
        progression_declared_index=None if progression is None else progression.declared_index,
    )
