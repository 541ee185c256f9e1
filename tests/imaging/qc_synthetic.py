"""Synthetic QC inputs for tests and the demo: a regular stack of slices, then broken on purpose.

Builders return valid, compliant data by default (a 5 mm axial CT of the chest, 60 slices,
0.7 mm pixels, 512 matrix); a test changes the one thing its rule is about.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterable
from dataclasses import replace

from imaging.qc.rules.model import InstanceInfo, Orientation, SeriesInfo

AXIAL: Orientation = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL: Orientation = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
SCAN_DATE = dt.date(2031, 5, 20)  # an obviously shifted date
STUDY_UID = "2.25.1000"


def stack(
    series_uid: str,
    slices: int = 60,
    *,
    spacing: float = 5.0,
    thickness: float | None = 5.0,
    start: float = -150.0,
    orientation: Orientation = AXIAL,
    pixel_spacing: tuple[float, float] | None = (0.7, 0.7),
    rows: int = 512,
    columns: int = 512,
    modality: str = "CT",
    sop_class_uid: str = CT_IMAGE_STORAGE,
    study_uid: str = STUDY_UID,
    acquisition_date: dt.date | None = SCAN_DATE,
    contrast_agent: str = "",
    burned_in_annotation: str | None = "NO",
    first_number: int = 1,
) -> tuple[InstanceInfo, ...]:
    """`slices` images `spacing` mm apart along the normal of `orientation`, numbered from `first_number`."""
    row, column = orientation[:3], orientation[3:]
    normal = (
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    )
    corner = (-180.0, -180.0, 0.0)
    return tuple(
        InstanceInfo(
            sop_uid=f"{series_uid}.{k + 1}",
            instance_number=first_number + k,
            image_position=tuple(c + (start + k * spacing) * n for c, n in zip(corner, normal, strict=False)),  # type: ignore[arg-type]
            image_orientation=orientation,
            slice_thickness=thickness,
            pixel_spacing=pixel_spacing,
            rows=rows,
            columns=columns,
            modality=modality,
            sop_class_uid=sop_class_uid,
            acquisition_date=acquisition_date,
            contrast_agent=contrast_agent,
            burned_in_annotation=burned_in_annotation,
            study_uid=study_uid,
        )
        for k in range(slices)
    )


def series(
    number: int | None = 3,
    description: str = "CHEST 5mm",
    *,
    uid: str | None = None,
    body_part: str = "CHEST",
    modality: str = "CT",
    instances: Iterable[InstanceInfo] | None = None,
    **stack_options: object,
) -> SeriesInfo:
    """A series of `stack(...)` instances (or the given ones)."""
    uid = uid or f"2.25.{number if number is not None else 0}.{zlib.crc32(description.encode())}"
    if instances is None:
        instances = stack(uid, modality=modality, **stack_options)  # type: ignore[arg-type]
    return SeriesInfo(
        series_uid=uid,
        series_number=number,
        description=description,
        modality=modality,
        body_part=body_part,
        instances=tuple(instances),
        study_uid=str(stack_options.get("study_uid", STUDY_UID)),
    )


def without(item: SeriesInfo, *numbers: int) -> SeriesInfo:
    """The series with the instances of these InstanceNumbers removed (a gap)."""
    return replace(item, instances=tuple(i for i in item.instances if i.instance_number not in numbers))


def changed(item: SeriesInfo, which: Callable[[InstanceInfo], bool], **changes: object) -> SeriesInfo:
    """The series with `changes` applied to the instances `which` selects."""
    return replace(
        item, instances=tuple(replace(i, **changes) if which(i) else i for i in item.instances)  # type: ignore[arg-type]
    )


def every(item: SeriesInfo, **changes: object) -> SeriesInfo:
    """The series with `changes` applied to every instance."""
    return changed(item, lambda _: True, **changes)
