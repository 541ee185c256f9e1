"""Imaging test data: de-identified-looking DICOM written to storage plus their Study/Series/Instance rows.

Until the upload pipeline creates these rows, tests build them here directly: `make_series`
generates the files (ictms.phantom's phantom, or datasets the test passes), stores them at
`imaging.archive.storage.instance_storage_key(...)` and creates the rows with the header values the
pipeline records. The signature of `make_series` is kept stable for other tests to reuse.
"""
from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
    generate_uid,
)

from imaging.archive.storage import instance_storage_key, store_instance_bytes
from imaging.models import Instance, Series, Study, Submission
from imaging.viewer.render import pixel_spacing
from tests.imaging.synthetic import Lesion, iter_ct_series
from trials.choices import VisitState
from trials.models import Visit

__all__ = ["Lesion", "add_instance", "instance_row_values", "make_series", "make_study", "uploader"]


def uploader() -> Any:
    """The user recorded as having opened the factory's submissions."""
    from tests.trials.factories import UserFactory

    return UserFactory(username="factory-uploader")


def make_study(visit: Visit, *, description: str = "CT CHEST ABDOMEN", study_date: Any = None) -> Study:
    """The visit's study (one per visit unless a test creates more by hand)."""
    study = Study.objects.filter(visit=visit).order_by("id").first()
    if study is not None:
        return study
    return Study.objects.create(
        participant=visit.participant, visit=visit, study_uid=str(generate_uid(prefix=None)),
        study_date=study_date or visit.scan_date, study_time="101010", description=description,
    )


def _submission(visit: Visit, user: Any) -> Submission:
    return Submission.objects.create(visit=visit, opened_by=user, state="done")


def make_series(
    participant_visit: Visit,
    n: int = 3,
    *,
    modality: str = "CT",
    spacing: float | None = 0.7,
    spacing_source: str = "PixelSpacing",
    transfer_syntax: str = ExplicitVRLittleEndian,
    photometric: str = "MONOCHROME2",
    rows: int = 64,
    columns: int = 64,
    slice_spacing: float = 2.5,
    lesions: Sequence[Lesion] = (),
    series_number: int | None = None,
    description: str = "",
    body_part: str = "CHEST",
    burned_in: bool = False,
    datasets: Sequence[Dataset] | None = None,
    study: Study | None = None,
    user: Any = None,
) -> Series:
    """A series of `n` instances in the visit's study, stored and recorded as the pipeline would.

    Without `datasets`, slices come from ictms.phantom's body phantom (with `lesions` of known
    size) at `spacing` mm per pixel (None: no spacing element at all; `spacing_source`
    "ImagerPixelSpacing" writes that element instead of PixelSpacing), `slice_spacing` mm apart,
    in `photometric` (MONOCHROME1/2, RGB, YBR_FULL) and encoded in `transfer_syntax` (native,
    RLE, JPEG baseline, JPEG lossless SV1, JPEG 2000 lossless). With `datasets` those are stored
    as they are (only their UIDs are replaced). Every call makes fresh UIDs.
    """
    user = user or uploader()
    study = study or make_study(participant_visit)
    number = series_number if series_number is not None else Series.objects.filter(study=study).count() + 1
    series_uid = str(generate_uid(prefix=None))
    if datasets is None:
        datasets = _phantom_slices(
            n, modality=modality, spacing=spacing, spacing_source=spacing_source, photometric=photometric,
            rows=rows, columns=columns, slice_spacing=slice_spacing, lesions=lesions, series_number=number,
            transfer_syntax=transfer_syntax,
        )
    first = datasets[0]
    submission = _submission(participant_visit, user)
    series = Series.objects.create(
        study=study, series_uid=series_uid, modality=str(first.get("Modality", modality) or modality),
        series_number=number, description=description or str(first.get("SeriesDescription", "") or ""),
        body_part=body_part, frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "") or ""),
        burned_in_annotation=burned_in,
        burned_in_reason="BurnedInAnnotation is YES" if burned_in else "", first_submission=submission,
    )
    for position, ds in enumerate(datasets, start=1):
        add_instance(series, ds, submission=submission, instance_number=position)
    if participant_visit.state == VisitState.EXPECTED:
        participant_visit.state = VisitState.RECEIVED
        participant_visit.save()
    return series


_IDENTIFYING = ("PatientBirthDate", "AccessionNumber", "InstitutionName", "ReferringPhysicianName",
                "StationName", "DeviceSerialNumber")


def add_instance(series: Series, ds: Dataset, *, submission: Submission | None = None,
                 instance_number: int | None = None) -> Instance:
    """Store one dataset as an instance of `series` (fresh SOP Instance UID) and record its row."""
    study = series.study
    subject_code = study.participant.subject_code
    # What de-identification leaves: the subject code as the patient, no institution or accession.
    ds.PatientName = ds.PatientID = subject_code
    for keyword in _IDENTIFYING:
        if keyword in ds:
            delattr(ds, keyword)
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series.series_uid
    ds.SOPInstanceUID = str(generate_uid(prefix=None))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "SOPClassUID" in ds:
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if instance_number is not None and "InstanceNumber" not in ds:
        ds.InstanceNumber = instance_number
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    data = buffer.getvalue()
    key = instance_storage_key(trial_code=study.participant.trial.code, study_uid=study.study_uid,
                               series_uid=series.series_uid, sop_uid=str(ds.SOPInstanceUID))
    store_instance_bytes(key, data)
    return Instance.objects.create(
        series=series, storage_key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
        submission=submission or series.first_submission,
        **instance_row_values(dcmread(io.BytesIO(data), stop_before_pixels=True)),
    )


def instance_row_values(ds: Dataset) -> dict[str, Any]:
    """The header values the pipeline keeps on the Instance row (spacing via imaging.viewer.render)."""
    spacing = pixel_spacing(ds)

    def floats(keyword: str) -> list[float] | None:
        value = ds.get(keyword)
        return [float(v) for v in value] if value else None

    def number(keyword: str) -> float | None:
        value = ds.get(keyword)
        return float(value) if value not in (None, "") else None

    return {
        "sop_uid": str(ds.SOPInstanceUID),
        "sop_class_uid": str(ds.get("SOPClassUID", "")),
        "instance_number": int(ds.InstanceNumber) if ds.get("InstanceNumber") not in (None, "") else None,
        "transfer_syntax_uid": str(ds.file_meta.TransferSyntaxUID),
        "rows": int(ds.get("Rows") or 0) or None,
        "columns": int(ds.get("Columns") or 0) or None,
        "number_of_frames": int(ds.get("NumberOfFrames") or 1),
        "photometric_interpretation": str(ds.get("PhotometricInterpretation", "") or ""),
        "slice_thickness": number("SliceThickness"),
        "spacing_between_slices": number("SpacingBetweenSlices"),
        "pixel_spacing": [spacing.row_mm, spacing.col_mm] if spacing.source else None,
        "image_position": floats("ImagePositionPatient"),
        "image_orientation": floats("ImageOrientationPatient"),
        "slice_location": number("SliceLocation"),
        "header": {"Modality": str(ds.get("Modality", "") or ""), "PixelSpacingSource": spacing.source or ""},
    }


# --- pixel data --------------------------------------------------------------------------------


def _phantom_slices(
    n: int, *, modality: str, spacing: float | None, spacing_source: str, photometric: str, rows: int,
    columns: int, slice_spacing: float, lesions: Sequence[Lesion], series_number: int, transfer_syntax: str,
) -> list[Dataset]:
    out = []
    for ds in iter_ct_series(
        n, rows=rows, cols=columns, pixel_spacing=spacing or 1.0, slice_thickness=slice_spacing,
        modality=modality if modality in ("CT", "MR", "PT") else "CT", lesions=lesions,
        series_number=series_number, series_description=f"{modality} SERIES {series_number}",
    ):
        ds.Modality = modality
        if "ReferencedImageSequence" in ds:  # points at the synthetic UIDs, which are replaced
            del ds.ReferencedImageSequence
        if spacing is None:
            del ds.PixelSpacing
        elif spacing_source == "ImagerPixelSpacing":
            del ds.PixelSpacing
            ds.ImagerPixelSpacing = [f"{spacing:g}", f"{spacing:g}"]
        _set_photometric(ds, photometric)
        out.append(_encode(ds, transfer_syntax))
    return out


def _set_photometric(ds: Dataset, photometric: str) -> None:
    if photometric == "MONOCHROME2":
        return
    if photometric == "MONOCHROME1":
        ds.PhotometricInterpretation = "MONOCHROME1"
        return
    if photometric not in ("RGB", "YBR_FULL"):
        raise ValueError(f"make_series cannot make {photometric!r}; pass datasets= instead")
    stored = np.frombuffer(ds.PixelData, dtype="<u2").reshape(int(ds.Rows), int(ds.Columns))
    gray = np.clip((stored.astype(np.float32) - 824.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    rgb = np.stack([gray, gray, (gray // 2).astype(np.uint8)], axis=-1)
    for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    if photometric == "YBR_FULL":
        ds.set_pixel_data(convert_color_space(rgb, "RGB", "YBR_FULL"), "YBR_FULL", 8)
    else:
        ds.set_pixel_data(rgb, "RGB", 8)


def _encode(ds: Dataset, transfer_syntax: str) -> Dataset:
    if transfer_syntax == ExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    elif transfer_syntax == RLELossless:
        ds.compress(RLELossless, encoding_plugin="pydicom")
    elif transfer_syntax == JPEG2000Lossless:
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    elif transfer_syntax == JPEGLosslessSV1:
        from tests.imaging.render_samples import jpeg_lossless_sv1

        ds = jpeg_lossless_sv1(ds)
    elif transfer_syntax == JPEGBaseline8Bit:
        ds = _jpeg_baseline(ds)
    else:
        raise ValueError(f"make_series cannot encode {transfer_syntax}")
    return ds


def _jpeg_baseline(ds: Dataset) -> Dataset:
    """8-bit JPEG baseline: 16-bit CT is windowed to 8 bits first (as lossy exports do)."""
    if int(ds.SamplesPerPixel) == 3:
        raise ValueError("make_series: JPEG baseline is made from grayscale slices only")
    stored = np.frombuffer(ds.PixelData, dtype="<u2").reshape(int(ds.Rows), int(ds.Columns))
    gray = np.clip((stored.astype(np.float32) - 824.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="JPEG", quality=90)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.LossyImageCompression = "01"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    return ds
