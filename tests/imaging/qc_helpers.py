"""Synthetic series made to pass or fail each QC rule, and the requirement they are checked against."""
from __future__ import annotations

import datetime as dt
from typing import Any

from tests.imaging import synthetic
from trials.choices import ContrastRule
from trials.models import ImagingRequirement, TimepointDefinition


def cap_requirement(timepoint: TimepointDefinition, **overrides: Any) -> ImagingRequirement:
    values = {"modality": "CT", "body_region": "Chest/abdomen/pelvis", "contrast": ContrastRule.REQUIRED,
                  "max_slice_thickness_mm": 5, "required": True}
    values.update(overrides)
    return ImagingRequirement.objects.create(timepoint=timepoint, **values)


def qc_series(n: int = 12, *, thickness: float = 2.5, spacing: float | None = None, missing: tuple[int, ...] = (),
              contrast: bool = True, body_part: str = "CHESTABDPELVIS", description: str = "CAP PORTAL 2.5MM",
              modality: str = "CT", study_date: dt.date | None = None, series_number: int = 2, seed: int = 0,
              study_uid: str | None = None) -> list[tuple[str, bytes]]:
    series = synthetic.make_ct_series(
        n, rows=32, cols=32, slice_thickness=thickness, spacing=spacing, missing_instances=missing, contrast=contrast,
        modality=modality, study_date=study_date or (dt.date.today() - dt.timedelta(days=35)),
        series_number=series_number, series_description=description, seed=seed, study_uid=study_uid,
    )
    files = []
    for ds in series.datasets:
        ds.BodyPartExamined = body_part
        files.append((f"IM{series_number:02d}{int(ds.InstanceNumber):04d}.dcm", synthetic.to_bytes(ds)))
    return files
