"""RECIST 1.1 engine (pure Python, no Django): the rulebook is ../shared/docs/recist-1.1.md.

Typical use::

    assessment = assess_participant(baseline, followups, RecistConfig())
    assessment.timepoints[0].overall_response, assessment.best_overall_response_confirmed
"""

from .adjudication import adjudication_triggers_hit, first_response_index
from .baseline import (
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    FindingClassification,
    Measurability,
    SelectionCapacity,
    baseline_sum_of_diameters,
    classify_baseline_finding,
    classify_target,
    minimum_measurable_mm,
    organ_key,
    reasons_target_cannot_be_added,
    selection_capacity,
)
from .best_response import find_progression
from .cases import (
    ParsedCase,
    compare_with_expected,
    evaluate_case,
    evaluate_cases,
    parse_case,
    run_cli,
)
from .engine import assess_participant, assess_timepoints
from .entry import EntryCompleteness, timepoint_entry_completeness
from .explain import (
    explain_non_target_response,
    explain_overall_response,
    explain_target_response,
)
from .model import (
    TOO_SMALL,
    AdjudicationTrigger,
    Baseline,
    FollowUp,
    LesionKind,
    MeasurementMethod,
    NewLesions,
    NonTargetLesion,
    NonTargetResponse,
    NonTargetStatus,
    OverallResponse,
    ParticipantAssessment,
    RecistConfig,
    TargetLesion,
    TargetResponse,
    TargetValue,
    TimepointAssessment,
)
from .validation import (
    IssueCode,
    RecistValidationError,
    ValidationIssue,
    validate_baseline,
    validate_followup,
    validate_participant,
)

__all__ = [
    "MAX_TARGETS",
    "MAX_TARGETS_PER_ORGAN",
    "TOO_SMALL",
    "AdjudicationTrigger",
    "Baseline",
    "EntryCompleteness",
    "FindingClassification",
    "FollowUp",
    "IssueCode",
    "LesionKind",
    "Measurability",
    "MeasurementMethod",
    "NewLesions",
    "NonTargetLesion",
    "NonTargetResponse",
    "NonTargetStatus",
    "OverallResponse",
    "ParsedCase",
    "ParticipantAssessment",
    "RecistConfig",
    "RecistValidationError",
    "SelectionCapacity",
    "TargetLesion",
    "TargetResponse",
    "TargetValue",
    "TimepointAssessment",
    "ValidationIssue",
    "adjudication_triggers_hit",
    "assess_participant",
    "assess_timepoints",
    "baseline_sum_of_diameters",
    "classify_baseline_finding",
    "classify_target",
    "compare_with_expected",
    "evaluate_case",
    "evaluate_cases",
    "explain_non_target_response",
    "explain_overall_response",
    "explain_target_response",
    "find_progression",
    "first_response_index",
    "minimum_measurable_mm",
    "organ_key",
    "parse_case",
    "reasons_target_cannot_be_added",
    "run_cli",
    "selection_capacity",
    "timepoint_entry_completeness",
    "validate_baseline",
    "validate_followup",
    "validate_participant",
]
