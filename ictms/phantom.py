"""Synthetic CT series for the demo: a body-shaped phantom with lesions of known size.

Pure (pydicom + NumPy + Pillow, no Django). Pixel content is a body-shaped
ellipse with a spine, and lesions drawn as spheres of known diameter at
known patient coordinates, so that a reader's caliper measurement on the
demo images can be checked against the truth. The tests build on this
(tests/imaging/synthetic.py adds fake PHI and broken files).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
US_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.6.1")
SECONDARY_CAPTURE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.7")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
PET_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.128")
_SOP_CLASS_BY_MODALITY = {"CT": CT_IMAGE_STORAGE, "MR": MR_IMAGE_STORAGE, "PT": PET_IMAGE_STORAGE}
_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's example root; our outputs are 2.25.*

@dataclass(frozen=True)
class SyntheticPatient:
    name: str = "DOE^JANE"
    patient_id: str = "MRN000001"
    birth_date: str = "19600101"
    sex: str = "F"
    age: str = "064Y"
    weight: str = "70"
    size: str = "1.68"


@dataclass(frozen=True)
class Lesion:
    """A sphere of `diameter_mm` centred at `center_mm` (patient x, y, z) drawn at `hu` Hounsfield units."""

    center_mm: tuple[float, float, float]
    diameter_mm: float
    hu: float = 90.0


class _Phantom:
    """Body ellipse + spine + spherical lesions on a rows x cols grid (stored values, HU + 1024)."""

    def __init__(self, rows: int, cols: int, pixel_spacing: float, lesions: Sequence[Lesion], seed: int) -> None:
        self.rows, self.cols, self.spacing = rows, cols, pixel_spacing
        self.lesions = tuple(lesions)
        self.rng = np.random.default_rng(seed)
        # Patient coordinates of pixel centres (x to the left, y to the back).
        self.x0 = -(cols - 1) * pixel_spacing / 2
        self.y0 = -(rows - 1) * pixel_spacing / 2
        xs = self.x0 + np.arange(cols) * pixel_spacing
        ys = self.y0 + np.arange(rows) * pixel_spacing
        self.x, self.y = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
        half_width = 0.42 * cols * pixel_spacing
        half_depth = 0.30 * rows * pixel_spacing
        self.body = (self.x / half_width) ** 2 + (self.y / half_depth) ** 2 <= 1.0
        spine_radius = 0.04 * cols * pixel_spacing
        self.spine = self.x**2 + (self.y - 0.18 * rows * pixel_spacing) ** 2 <= spine_radius**2

    def slice(self, z: float) -> np.ndarray:
        hu = np.full((self.rows, self.cols), -1000.0, dtype=np.float32)
        hu[self.body] = 40.0
        hu[self.spine] = 700.0
        for lesion in self.lesions:
            cx, cy, cz = lesion.center_mm
            radius = lesion.diameter_mm / 2
            if abs(z - cz) > radius:
                continue
            r2 = radius**2 - (z - cz) ** 2
            hu[(self.x - cx) ** 2 + (self.y - cy) ** 2 <= r2] = lesion.hu
        hu += self.rng.normal(0.0, 8.0, hu.shape).astype(np.float32)
        # Stored values stay within 12 bits (0..4095): never bytes that look like ASCII digits pairs in bulk.
        return np.clip(hu + 1024.0, 0, 4095).astype(np.uint16)


# --------------------------------------------------------------------------- series


def _uid(seed: int, label: str) -> str:
    return str(generate_uid(_UID_ROOT, entropy_srcs=[f"synthetic-{seed}-{label}"]))


def iter_ct_series(
    n_slices: int,
    *,
    rows: int = 512,
    cols: int = 512,
    pixel_spacing: float = 0.7,
    slice_thickness: float = 1.25,
    spacing: float | None = None,
    missing_instances: Iterable[int] = (),
    modality: str = "CT",
    contrast: bool = False,
    study_date: dt.date = dt.date(2024, 3, 14),
    patient: SyntheticPatient = SyntheticPatient(),
    lesions: Sequence[Lesion] = (),
    transfer_syntax: str = ExplicitVRLittleEndian,
    seed: int = 0,
    series_number: int = 2,
    series_description: str = "CHEST ABDOMEN 1.25MM",
    study_uid: str | None = None,
    identity: Mapping[str, str] | None = None,
    decorate: Callable[[Dataset, int], None] | None = None,
) -> Iterator[Dataset]:
    """Yield the slices of an axial series one by one (for long series that should not sit in memory).

    Instance numbers run 1..n_slices; those in `missing_instances` are not
    generated (a gap for QC). Slices start at z = 0 and go up by `spacing`
    (default: the slice thickness). `identity` overrides the accession number
    and institution; `decorate(ds, index)` may change each slice before it is
    encoded (the tests plant fake PHI this way).
    """
    spacing = slice_thickness if spacing is None else spacing
    missing = set(missing_instances)
    phantom = _Phantom(rows, cols, pixel_spacing, lesions, seed)
    study_uid = study_uid or _uid(seed, "study")
    series_uid = _uid(seed, f"series-{series_number}")
    frame_uid = _uid(seed, "frame-of-reference")
    identity = {"accession": "ACC0001", "institution": "SYNTHETIC HOSPITAL", **(identity or {})}
    date_text = study_date.strftime("%Y%m%d")
    for index in range(n_slices):
        number = index + 1
        if number in missing:
            continue
        z = index * spacing
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID = _SOP_CLASS_BY_MODALITY.get(modality, CT_IMAGE_STORAGE)
        ds.SOPInstanceUID = _uid(seed, f"instance-{series_number}-{number}")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceCreationDate = date_text
        ds.InstanceCreationTime = "101500"
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date_text
        ds.StudyTime = "101010"
        ds.SeriesTime = "101200"
        ds.AcquisitionTime = ds.ContentTime = f"1013{index % 60:02d}"
        ds.AccessionNumber = identity["accession"]
        ds.Modality = modality
        ds.Manufacturer = "ICTMS Synthetic"
        ds.InstitutionName = identity["institution"]
        ds.ReferringPhysicianName = "WHO^REFERRED"
        ds.StationName = "SYNTH01"
        ds.StudyDescription = "CT CHEST ABDOMEN"
        ds.SeriesDescription = series_description
        ds.ManufacturerModelName = "Phantom 1"
        ds.PatientName = patient.name
        ds.PatientID = patient.patient_id
        ds.PatientBirthDate = patient.birth_date
        ds.PatientSex = patient.sex
        ds.PatientAge = patient.age
        ds.PatientSize = patient.size
        ds.PatientWeight = patient.weight
        if contrast:
            ds.ContrastBolusAgent = "IOHEXOL 350"
            ds.ContrastBolusRoute = "IV"
        ds.BodyPartExamined = "CHEST"
        ds.SliceThickness = f"{slice_thickness:g}"
        ds.KVP = "120"
        ds.SpacingBetweenSlices = f"{spacing:g}"
        ds.DeviceSerialNumber = "SN-000123"
        ds.SoftwareVersions = "1.0"
        ds.ProtocolName = "CHEST ABD"
        ds.ConvolutionKernel = "STANDARD"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [f"{phantom.x0:.4f}", f"{phantom.y0:.4f}", f"{z:.4f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = f"{z:.4f}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = cols
        ds.PixelSpacing = [f"{pixel_spacing:g}", f"{pixel_spacing:g}"]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.BurnedInAnnotation = "NO"
        if index > 0:
            # A reference to the previous slice, to check reference remapping.
            reference = Dataset()
            reference.ReferencedSOPClassUID = ds.SOPClassUID
            reference.ReferencedSOPInstanceUID = _uid(seed, f"instance-{series_number}-{number - 1}")
            ds.ReferencedImageSequence = DicomSequence([reference])
        ds.PixelData = phantom.slice(z).tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        if decorate is not None:
            decorate(ds, index)
        yield _encode(ds, transfer_syntax)


def make_ct_series(n_slices: int, **kwargs: Any) -> list[Dataset]:
    """Build a whole series in memory (see iter_ct_series for the arguments)."""
    return list(iter_ct_series(n_slices, **kwargs))


# --------------------------------------------------------------------------- encodings


def _encode(ds: Dataset, transfer_syntax: str) -> Dataset:
    """Set the transfer syntax, compressing the pixel data when it is a compressed one."""
    syntax = UID(transfer_syntax)
    if syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian):
        ds.file_meta.TransferSyntaxUID = syntax
        if syntax == ExplicitVRBigEndian:
            # Native 16-bit pixel data must be stored big endian too.
            array = np.frombuffer(ds.PixelData, dtype="<u2" if ds.BitsAllocated == 16 else np.uint8)
            ds.PixelData = array.astype(array.dtype.newbyteorder(">")).tobytes()
            if ds.BitsAllocated == 16:
                ds["PixelData"].VR = "OW"
        return ds
    if syntax == RLELossless:
        ds.compress(RLELossless, encoding_plugin="pydicom")
        return ds
    if syntax == JPEG2000Lossless:
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        return ds
    if syntax == JPEGBaseline8Bit:
        return _jpeg_baseline(ds)
    raise ValueError(f"unsupported transfer syntax for synthetic data: {syntax}")


def _jpeg_baseline(ds: Dataset) -> Dataset:
    """JPEG baseline is 8-bit: windowed to 8 bits and encoded with Pillow."""
    from PIL import Image

    array = np.frombuffer(ds.PixelData, dtype=np.uint16 if ds.BitsAllocated == 16 else np.uint8)
    if ds.SamplesPerPixel == 3:
        buffer = io.BytesIO()
        # 4:2:2 chroma subsampling, which is what YBR_FULL_422 declares.
        Image.fromarray(array.reshape(ds.Rows, ds.Columns, 3), mode="RGB").save(
            buffer, format="JPEG", quality=90, subsampling=1
        )
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PixelData = encapsulate([buffer.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        return ds
    array = array.reshape(ds.Rows, ds.Columns)
    if ds.BitsAllocated == 16:
        array = np.clip((array.astype(np.float32) - 824.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth"):
            if keyword in ds:
                delattr(ds, keyword)
    buffer = io.BytesIO()
    Image.fromarray(array, mode="L").save(buffer, format="JPEG", quality=90)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    return ds


def to_bytes(ds: Dataset) -> bytes:
    """Encode a dataset as a DICOM file (preamble, file meta, data set)."""
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


