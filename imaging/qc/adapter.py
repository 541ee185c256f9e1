"""From the ORM to the pure QC engine's inputs (imaging.qc.rules) — no rules here, only mapping."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, fields
from typing import Any

from imaging.choices import FILE_REASONS_NOT_ABOUT_CONTENT, FileStatus
from imaging.models import Instance, Series, Submission, SubmissionFile
from imaging.qc.rules import (
    InstanceInfo,
    QcResult,
    RequirementRules,
    SeriesInfo,
    SeriesMeasurements,
    UnreadableFile,
    VisitContext,
)
from trials.models import ImagingRequirement, Visit


def _shift(day: dt.date | None, offset: int) -> dt.date | None:
    return day + dt.timedelta(days=offset) if day else None


def instance_info(instance: Instance, study_uid: str) -> InstanceInfo:
    header = instance.header or {}
    flags = header.get("qc_flags") or []
    agent = instance.contrast_agent or ("coded agent" if header.get("has_contrast") else "")
    return InstanceInfo(
        sop_uid=instance.sop_uid, instance_number=instance.instance_number, image_position=instance.image_position,
        image_orientation=instance.image_orientation, slice_thickness=instance.slice_thickness,
        spacing_between_slices=instance.spacing_between_slices, pixel_spacing=instance.pixel_spacing,
        rows=instance.rows, columns=instance.columns, number_of_frames=instance.number_of_frames,
        modality=header.get("modality", ""), sop_class_uid=instance.sop_class_uid,
        acquisition_date=instance.acquisition_date, contrast_agent=agent,
        burned_in_annotation="YES" if "burned_in_annotation" in flags else None, study_uid=study_uid,
        readable=bool(header.get("pixel_data_readable", True)), frame_positions=header.get("frame_positions"),
    )


def series_infos(visit: Visit) -> list[SeriesInfo]:
    """Every series of the visit with its instances, in two queries."""
    series = list(Series.objects.filter(study__visit=visit).select_related("study"))
    instances: dict[int, list[Instance]] = defaultdict(list)
    for instance in Instance.objects.filter(series__in=series).order_by("id"):
        instances[instance.series_id].append(instance)
    out = []
    for s in series:
        rows = instances[s.pk]
        flags = frozenset(flag for i in rows for flag in (i.header or {}).get("qc_flags") or [])
        out.append(SeriesInfo(
            series_uid=s.series_uid, series_number=s.series_number, description=s.description, modality=s.modality,
            body_part=s.body_part, instances=tuple(instance_info(i, s.study.study_uid) for i in rows),
            burned_in=s.burned_in_annotation, burned_in_reason=s.burned_in_reason, flags=flags,
            study_uid=s.study.study_uid, study_date=s.study.study_date,
        ))
    return out


def requirement_rules(visit: Visit) -> list[RequirementRules]:
    return [
        RequirementRules(
            id=r.pk, modality=r.modality, body_region=r.body_region, contrast=r.contrast,
            max_slice_thickness_mm=r.max_slice_thickness_mm, min_pixel_spacing_mm=r.min_pixel_spacing_mm,
            max_pixel_spacing_mm=r.max_pixel_spacing_mm, min_slices=r.min_slices, required=r.required,
            other_rules=r.other_rules, slice_gap_tolerance=float(r.slice_gap_tolerance),
            allow_multiple_studies=r.allow_multiple_studies,
            body_part_keywords=tuple(k.strip() for k in r.body_part_keywords.split(",") if k.strip()),
            min_matrix=r.min_matrix, min_coverage_mm=float(r.min_coverage_mm) if r.min_coverage_mm is not None else None,
            require_contiguous_slices=r.require_contiguous_slices,
        )
        for r in ImagingRequirement.objects.filter(timepoint=visit.timepoint_id).order_by("id")
    ]


def visit_context(visit: Visit) -> VisitContext:
    """The window and the reported scan date, moved into the images' shifted date frame."""
    participant = visit.participant
    offset = participant.deid_date_offset_days
    window = visit.window()
    latest = Submission.objects.filter(visit=visit, scan_date__isnull=False).order_by("-opened_at").first()
    reported = latest.scan_date if latest else visit.scan_date
    unreadable = [
        UnreadableFile(name=f.display_name or f"file {f.ordinal}", reason=f.reason)
        for f in SubmissionFile.objects.filter(submission__visit=visit, status=FileStatus.REJECTED).exclude(
            reason_code__in=FILE_REASONS_NOT_ABOUT_CONTENT).order_by("id")
    ]
    return VisitContext(
        timepoint_code=visit.timepoint.code,
        window_start=_shift(window[0], offset) if window else None,
        window_end=_shift(window[1], offset) if window else None,
        reported_scan_date=_shift(reported, offset),
        scan_date_tolerance_days=participant.trial.scan_date_tolerance_days,
        unreadable_files=tuple(unreadable),
    )


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def run_record(result: QcResult) -> dict[str, Any]:
    """What a QC run stores besides its findings: the requirement matches and the series measurements."""
    return {
        "matches": [_json_ready(asdict(m)) for m in result.matches],
        "measurements": [_json_ready(asdict(m)) for m in result.measurements],
    }


_PAIRS = ("slice_thickness_mm", "pixel_spacing_mm", "matrix")
_MEASUREMENT_FIELDS = {f.name for f in fields(SeriesMeasurements)}


def stored_measurements(rows: list[dict[str, Any]]) -> dict[str, SeriesMeasurements]:
    """A run's stored measurements by series UID, as the engine gave them."""
    out = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k in _MEASUREMENT_FIELDS}
        for key in _PAIRS:
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        if values.get("scan_date"):
            values["scan_date"] = dt.date.fromisoformat(values["scan_date"])
        measured = SeriesMeasurements(**values)
        out[measured.series_uid] = measured
    return out
