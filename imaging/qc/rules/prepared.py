"""A series prepared once for the checks: duplicates removed, derived values, slice geometry.

The rule functions take plain SeriesInfo values; the preparation is cached (by value, since the
inputs are frozen) so that a dozen checks on the same series do not redo the work.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from imaging.qc.rules.geometry import (
    SliceGeometry,
    analyse_slices,
)
from imaging.qc.rules.model import (
    DEFAULT_SEVERITY,
    Finding,
    FindingCode,
    InstanceInfo,
    RequirementRules,
    SeriesInfo,
    Severity,
)
from imaging.qc.rules.vocabulary import (
    CROSS_SECTIONAL,
    normalize_modality,
)

Code = FindingCode
Policy = Mapping[FindingCode, Severity]

#: Comparisons with protocol limits forgive float noise only: exactly the limit passes.
EPSILON_MM = 1e-6
#: The spacing tolerance used where no requirement sets one (measurements, series checks).
DEFAULT_TOLERANCE = 0.1


@dataclass(frozen=True)
class SeriesView:
    """A series with duplicate SOP instances removed and its derived values."""

    series: SeriesInfo
    instances: tuple[InstanceInfo, ...]  # one per SOP Instance UID, by InstanceNumber
    modality: str  # normalized; the series' own, else the instances' most common
    study_uid: str
    scan_date: dt.date | None  # earliest acquisition date, else the study date (shifted)
    frames: int
    thickness: tuple[float, float] | None  # (min, max) SliceThickness

    @property
    def cross_sectional(self) -> bool:
        return self.modality in CROSS_SECTIONAL


def most_common(values: Iterable[str]) -> str:
    """The most frequent non-empty value (ties: the smallest), or ""."""
    counted = Counter(v for v in values if v)
    if not counted:
        return ""
    return min(counted.items(), key=lambda item: (-item[1], item[0]))[0]


@lru_cache(maxsize=64)
def view_of(series: SeriesInfo) -> SeriesView:
    """The series prepared for the checks (cached by value: inputs are frozen)."""
    # The same SOP instance can arrive twice (a re-upload maps to the same de-identified UID):
    # keep one, chosen by content so that the input order does not matter.
    unique: dict[str, InstanceInfo] = {}
    for instance in sorted(series.instances, key=repr):
        unique.setdefault(instance.sop_uid, instance)
    instances = tuple(
        sorted(unique.values(), key=lambda i: (i.instance_number is None, i.instance_number or 0, i.sop_uid))
    )
    modality = normalize_modality(series.modality) or normalize_modality(most_common(i.modality for i in instances))
    dates = [i.acquisition_date for i in instances if i.acquisition_date is not None]
    thicknesses = [i.slice_thickness for i in instances if i.slice_thickness is not None and i.slice_thickness > 0]
    return SeriesView(
        series=series,
        instances=instances,
        modality=modality,
        study_uid=most_common(i.study_uid for i in instances) or series.study_uid,
        scan_date=min(dates) if dates else series.study_date,
        frames=sum(i.number_of_frames for i in instances),
        thickness=(min(thicknesses), max(thicknesses)) if thicknesses else None,
    )


@lru_cache(maxsize=64)
def geometry_of(series: SeriesInfo, tolerance: float) -> SliceGeometry:
    return analyse_slices(view_of(series).instances, tolerance)


def slice_count(series: SeriesInfo, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Distinct slice positions when every frame has one (phases counted once), else frames."""
    view = view_of(series)
    geometry = geometry_of(series, tolerance)
    if view.cross_sectional and geometry.complete and geometry.locations:
        return len(geometry.locations)
    return view.frames


def new_finding(
    code: FindingCode,
    message: str,
    *,
    series: SeriesInfo | None = None,
    requirement: RequirementRules | None = None,
    study_uid: str | None = None,
    **details: object,
) -> Finding:
    return Finding(
        code=code,
        severity=DEFAULT_SEVERITY[code],
        message=message,
        series_uid=series.series_uid if series is not None else None,
        requirement_id=requirement.id if requirement is not None else None,
        study_uid=study_uid or None,
        details=details,
    )


def rounded(value: float | None) -> float | None:
    """Rounded for `details`, so stored values do not show float noise."""
    return None if value is None else round(value, 4)


def coverage_mm(series: SeriesInfo, tolerance: float) -> float | None:
    """First to last slice centre, plus one slice thickness (or spacing): the length imaged."""
    view = view_of(series)
    geometry = geometry_of(series, tolerance)
    if not view.cross_sectional or not geometry.complete or geometry.extent_mm is None:
        return None
    slab = view.thickness[1] if view.thickness else (geometry.spacing_mm or 0.0)
    return geometry.extent_mm + slab


def with_policy(finding: Finding, policy: Policy, cap: bool = False) -> Finding:
    """The finding with the policy's severity; `cap` lowers blocking to warning (optional requirements)."""
    severity = policy[finding.code]
    if cap and severity == Severity.BLOCKING:
        severity = Severity.WARNING
    return finding if severity == finding.severity else replace(finding, severity=severity)
