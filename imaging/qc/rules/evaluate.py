"""`evaluate_visit`: every automated QC check on one visit, in a stable order.

1. Visit level: files that were not DICOM, more than one study, the scan date against the
   (shifted) visit window and against the date the site reported.
2. Every series, whatever it is used for: unreadable images, mixed modalities, burned-in text.
3. Requirements (`imaging.qc.rules.matching`): the best series for each requirement, its acquisition
   checks, and what is missing or of the wrong modality.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from imaging.qc.rules.checks import (
    SERIES_CHECKS,
    check_scan_dates,
    check_single_study,
    check_unreadable_files,
)
from imaging.qc.rules.matching import match_requirements
from imaging.qc.rules.model import (
    Finding,
    FindingCode,
    QcResult,
    RequirementRules,
    SeriesInfo,
    SeriesMeasurements,
    VisitContext,
    requirement_sort_key,
    series_sort_key,
    severity_policy,
)
from imaging.qc.rules.prepared import (
    DEFAULT_TOLERANCE,
    coverage_mm,
    geometry_of,
    rounded,
    slice_count,
    view_of,
    with_policy,
)
from imaging.qc.rules.vocabulary import agent_given


def measure_series(series: SeriesInfo, tolerance: float = DEFAULT_TOLERANCE) -> SeriesMeasurements:
    """The header values behind the checks, for the review page."""
    view = view_of(series)
    geometry = geometry_of(series, tolerance)
    spacings = [v for i in view.instances if i.pixel_spacing for v in i.pixel_spacing if v > 0]
    sizes = [(i.rows, i.columns) for i in view.instances if i.rows and i.columns]
    agents = sorted({i.contrast_agent.strip() for i in view.instances if agent_given(i.contrast_agent)})
    return SeriesMeasurements(
        series_uid=series.series_uid,
        series_number=series.series_number,
        description=series.description,
        modality=view.modality,
        study_uid=view.study_uid,
        images=len(view.instances),
        frames=view.frames,
        slices=slice_count(series, tolerance),
        slice_thickness_mm=view.thickness,
        pixel_spacing_mm=(min(spacings), max(spacings)) if spacings else None,
        matrix=(min(r for r, _ in sizes), min(c for _, c in sizes)) if sizes else None,
        slice_spacing_mm=rounded(geometry.spacing_mm) if view.cross_sectional and geometry.complete else None,
        coverage_mm=rounded(coverage_mm(series, tolerance)),
        contrast_agent=", ".join(agents),
        scan_date=view.scan_date,
        unreadable=sum(1 for i in view.instances if not i.readable),
    )


def _merge_duplicate_series(series: Iterable[SeriesInfo]) -> list[SeriesInfo]:
    """One SeriesInfo per Series Instance UID (instances pooled), whatever the input order."""
    grouped: dict[str, list[SeriesInfo]] = defaultdict(list)
    for item in series:
        grouped[item.series_uid].append(item)
    merged = []
    for items in grouped.values():
        items.sort(key=lambda s: repr(replace(s, instances=())))
        instances = tuple(i for s in items for i in s.instances)
        merged.append(replace(items[0], instances=instances) if len(items) > 1 else items[0])
    return sorted(merged, key=lambda s: series_sort_key(s.series_number, s.series_uid))


def evaluate_visit(
    series: Sequence[SeriesInfo],
    requirements: Sequence[RequirementRules],
    visit: VisitContext,
    *,
    severity_overrides: Mapping[str, str] | None = None,
) -> QcResult:
    """Run every automated QC check on the visit's series against its imaging requirements.

    Deterministic and idempotent: the order of series, instances and requirements does not
    matter, and the same input always gives an equal result, so the caller can replace the
    stored findings wholesale after each upload (a re-upload that fixes a problem makes its
    finding disappear; compare `Finding.key` to find the queries to mark answered).
    `severity_overrides` maps finding codes to severities (the trial's policy); raises ValueError
    for unknown codes or severities.
    """
    policy = severity_policy(severity_overrides)
    ordered = _merge_duplicate_series(series)
    requirements = sorted(requirements, key=lambda r: requirement_sort_key(r.id))
    raw: list[Finding] = []
    raw += check_unreadable_files(visit)
    raw += check_single_study(ordered, requirements)
    raw += check_scan_dates(ordered, visit)
    for item in ordered:
        for check in SERIES_CHECKS:
            raw += check(item)
    findings = [with_policy(f, policy) for f in raw]
    matches, matched_findings = match_requirements(ordered, requirements, policy)
    findings += matched_findings
    result = QcResult(
        findings=_ordered_unique(findings, ordered),
        matches=tuple(matches),
        measurements=tuple(measure_series(item) for item in ordered),
    )
    # The caches only save recomputation within one visit; series can be large, so a worker
    # should not keep them alive between visits.
    view_of.cache_clear()
    geometry_of.cache_clear()
    return result


_CODE_ORDER = {code: index for index, code in enumerate(FindingCode)}


def _ordered_unique(findings: list[Finding], series: Sequence[SeriesInfo]) -> tuple[Finding, ...]:
    """Visit-level findings first, then by series number, rule and requirement. A finding that
    says the same thing about the same series for two requirements (a CAP series used for a
    chest and an abdomen requirement) is kept once, under the first requirement."""
    position = {s.series_uid: series_sort_key(s.series_number, s.series_uid) for s in series}

    def key(f: Finding) -> tuple[object, ...]:
        where = position.get(f.series_uid, (True, 0, f.series_uid)) if f.series_uid else (False, -1, "")
        requirement = requirement_sort_key(f.requirement_id) if f.requirement_id is not None else (-1, 0, "")
        return (f.series_uid is not None, where, _CODE_ORDER[f.code], requirement, f.study_uid or "", f.message)

    seen: set[tuple[object, ...]] = set()
    unique = []
    for finding in sorted(findings, key=key):
        identity = (finding.code, finding.series_uid, finding.study_uid, finding.message)
        if identity not in seen:
            seen.add(identity)
            unique.append(finding)
    return tuple(unique)
