"""Reader-discordance triggers for adjudication (§10.4); default BOR + progression timepoint."""

from __future__ import annotations

from .model import (
    DEFAULT_ADJUDICATION_TRIGGERS,
    AdjudicationTrigger,
    OverallResponse,
    ParticipantAssessment,
)


def first_response_index(assessment: ParticipantAssessment) -> int | None:
    """The timepoint at which CR or PR criteria were first met (§9, duration of response)."""
    for tp in assessment.timepoints:
        if tp.overall_response in (OverallResponse.CR, OverallResponse.PR):
            return tp.index
    return None


def adjudication_triggers_hit(
    reader_1: ParticipantAssessment,
    reader_2: ParticipantAssessment,
    triggers: frozenset[AdjudicationTrigger] = DEFAULT_ADJUDICATION_TRIGGERS,
) -> list[AdjudicationTrigger]:
    """Which of the charter's triggers two readers' results set off (§10.4).

    Call it once both readers have locked the same timepoints. Progression is compared by
    timepoint, not calendar date; BOR uses the protocol's confirmed/unconfirmed choice
    (`RecistConfig.confirmation_required` of reader 1's assessment).
    """
    hit: list[AdjudicationTrigger] = []
    if AdjudicationTrigger.BEST_OVERALL_RESPONSE in triggers:
        confirmed = reader_1.config.confirmation_required
        bor_1 = (
            reader_1.best_overall_response_confirmed
            if confirmed
            else reader_1.best_overall_response_unconfirmed
        )
        bor_2 = (
            reader_2.best_overall_response_confirmed
            if confirmed
            else reader_2.best_overall_response_unconfirmed
        )
        if bor_1 is not bor_2:
            hit.append(AdjudicationTrigger.BEST_OVERALL_RESPONSE)
    if (
        AdjudicationTrigger.PROGRESSION in triggers
        and reader_1.progression_index != reader_2.progression_index
    ):
        hit.append(AdjudicationTrigger.PROGRESSION)
    if AdjudicationTrigger.FIRST_RESPONSE in triggers and first_response_index(
        reader_1
    ) != first_response_index(reader_2):
        hit.append(AdjudicationTrigger.FIRST_RESPONSE)
    if AdjudicationTrigger.TIMEPOINT_RESPONSE in triggers:
        responses_1 = [tp.overall_response for tp in reader_1.timepoints]
        responses_2 = [tp.overall_response for tp in reader_2.timepoints]
        if responses_1 != responses_2:
            hit.append(AdjudicationTrigger.TIMEPOINT_RESPONSE)
    return hit
