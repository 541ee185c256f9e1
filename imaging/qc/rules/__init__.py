"""Automated QC of received images against a visit's imaging requirements (pure Python, no Django).

Typical use (the Django adapter builds the inputs from the ORM and stores the outputs)::

    result = evaluate_visit(series_infos, requirement_rules, VisitContext(window_start=..., ...))
    for finding in result.findings: ...       # code, severity, message, series_uid, details
    for match in result.matches: ...          # which series satisfied which requirement, and why
"""

from imaging.qc.rules.checks import (
    REQUIREMENT_CHECKS,
    SERIES_CHECKS,
    check_burned_in,
    check_contiguity,
    check_contrast,
    check_coverage,
    check_image_size,
    check_matrix,
    check_mixed_modality,
    check_orientation,
    check_pixel_spacing,
    check_scan_dates,
    check_single_study,
    check_slice_count,
    check_slice_spacing,
    check_slice_thickness,
    check_unreadable_files,
    check_unreadable_instances,
    requirement_findings,
)
from imaging.qc.rules.evaluate import evaluate_visit, measure_series
from imaging.qc.rules.matching import match_requirements
from imaging.qc.rules.model import (
    DEFAULT_SEVERITY,
    QUERY_CATEGORY,
    CandidateSeries,
    ContrastRule,
    Finding,
    FindingCode,
    InstanceInfo,
    MatchReason,
    QcResult,
    RequirementMatch,
    RequirementRules,
    SeriesInfo,
    SeriesMeasurements,
    Severity,
    UnreadableFile,
    VisitContext,
    severity_policy,
)

__all__ = [
    "DEFAULT_SEVERITY",
    "QUERY_CATEGORY",
    "REQUIREMENT_CHECKS",
    "SERIES_CHECKS",
    "CandidateSeries",
    "ContrastRule",
    "Finding",
    "FindingCode",
    "InstanceInfo",
    "MatchReason",
    "QcResult",
    "RequirementMatch",
    "RequirementRules",
    "SeriesInfo",
    "SeriesMeasurements",
    "Severity",
    "UnreadableFile",
    "VisitContext",
    "check_burned_in",
    "check_contiguity",
    "check_contrast",
    "check_coverage",
    "check_image_size",
    "check_matrix",
    "check_mixed_modality",
    "check_orientation",
    "check_pixel_spacing",
    "check_scan_dates",
    "check_single_study",
    "check_slice_count",
    "check_slice_spacing",
    "check_slice_thickness",
    "check_unreadable_files",
    "check_unreadable_instances",
    "evaluate_visit",
    "match_requirements",
    "measure_series",
    "requirement_findings",
    "severity_policy",
]
