"""Synthetic DICOM for the tests and benchmarks: the demo phantom (ictms.phantom) full of fake PHI, and odd files.

Pure (pydicom + NumPy + Pillow, no Django). Pixel content is a body-shaped
ellipse with a spine, and lesions drawn as spheres of known diameter at
known patient coordinates, so that a later measurement can be checked.

With `phi=True` every attribute of PS3.15 Table E.1-1 that can hold a
searchable value gets a distinct fake one (also inside sequence items),
plus private elements, overlays, curves, file meta AE titles and a few
attributes the table does not list. The planted values come back as
PlantedValue records; find_planted() scans output bytes for them. Values
that the default profile (modified dates, patient characteristics, clean
descriptors) legitimately keeps are planted with non-identifying values
and not listed: sex, age, size, weight and the other patient
characteristics; descriptors are planted as harmless words followed by
other planted values (which must be scrubbed). Times are listed with
kind "time": shifting dates by whole days keeps them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    generate_uid,
)

from ictms import phantom
from ictms.phantom import (  # noqa: F401  (the tests' one import for synthetic data)
    _UID_ROOT,
    CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    PET_IMAGE_STORAGE,
    SECONDARY_CAPTURE_STORAGE,
    US_IMAGE_STORAGE,
    Lesion,
    SyntheticPatient,
    _encode,
    _uid,
    to_bytes,
)
from imaging.deid import profile as deid_profile

__all__ = [
    "Lesion",
    "PlantedValue",
    "SyntheticPatient",
    "SyntheticSeries",
    "find_planted",
    "iter_ct_series",
    "make_ct_series",
    "make_dicomdir",
    "make_empty_file",
    "make_file_without_meta",
    "make_not_dicom",
    "make_secondary_capture",
    "make_truncated",
    "make_ultrasound",
    "to_bytes",
    "write_ct_series",
]

_TABLE = Path(deid_profile.__file__).with_name("data") / "ps3.15-e1-1.csv"
_DEFAULT_OPTION_COLUMNS = ("retain_patient_characteristics", "retain_long_modified_dates", "clean_descriptors")
_TEXT_VRS = {"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UT"}
_SHORT_VRS = {"AE", "CS", "SH"}  # 16 characters at most
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
# Retained under Retain Patient Characteristics: planted with ordinary values, not PHI-shaped.
_BENIGN_VALUES = {
    "PatientSex": "F",
    "PatientAge": "064Y",
    "PatientSize": "1.68",
    "PatientWeight": "70",
    "EthnicGroup": "UNKNOWN",
    "SmokingStatus": "NO",
    "PregnancyStatus": 4,
    "PatientSexNeutered": "UNALTERED",
    "SelectorASValue": "064Y",
    "ReasonForTheAttributeModification": "COERCE",
}


@dataclass(frozen=True)
class PlantedValue:
    """A fake identifying value written into a file.

    kind: "text" (byte search), "uid", "date" (8 digits), "time", "number"
    (digit-bounded search) or "bytes".
    """

    token: str
    kind: str
    where: str


@dataclass
class SyntheticSeries:
    datasets: list[Dataset]
    planted: list[PlantedValue] = field(default_factory=list)


_TEXT_TOKEN = re.compile(rb"PHI[0-9A-F]{8}(?:N[0-9A-Z]{2})?G?X")
# Digit runs and UID-shaped strings not preceded by a digit or a dot (so a
# date is never "found" inside a UID). The right end is open: in a file a
# value may be followed directly by binary bytes that happen to be digits
# (a tag of group 0032 starts with the byte "2"), so tokens are matched as
# prefixes of the runs.
_DIGIT_RUN = re.compile(rb"(?<![0-9.])[0-9]+")
_UID_LIKE = re.compile(rb"(?<![0-9.])[0-9]+(?:\.[0-9]+)+")


def find_planted(
    data: bytes, planted: Iterable[PlantedValue], *, allow_kinds: Iterable[str] = ()
) -> list[PlantedValue]:
    """Return the planted values present in `data`, skipping the kinds in `allow_kinds`.

    Extracts candidate tokens with a few patterns, one pass each, then looks
    them up, so scanning a 500 kB file for a thousand values is fast. Dates
    are also found at the start of a longer digit run (the date of a DT).
    """
    allowed = set(allow_kinds)
    wanted = {value.token: value for value in planted if value.kind not in allowed}
    if not wanted:
        return []
    digit_lengths = {len(token) for token in wanted if token.isdigit()}
    uid_lengths = {len(token) for token in wanted if "." in token and token.replace(".", "").isdigit()}
    candidates: set[str] = {match.decode() for match in _TEXT_TOKEN.findall(data)}
    for run in _DIGIT_RUN.findall(data):
        text = run.decode()
        candidates.update(text[:length] for length in digit_lengths if len(text) >= length)
    for match in _UID_LIKE.findall(data):
        text = match.decode()
        candidates.update(text[:length] for length in uid_lengths if len(text) >= length)
    found = [wanted[token] for token in candidates if token in wanted]
    # Tokens of other shapes (a caller's own values): a plain search.
    for token, value in wanted.items():
        if token in candidates or token.replace(".", "").isdigit() or _TEXT_TOKEN.fullmatch(token.encode()):
            continue
        if token.encode("utf-8") in data:
            found.append(value)
    return found


# --------------------------------------------------------------------------- PHI planting


class _Planter:
    """Hands out distinct fake values per VR and records them."""

    def __init__(self, study_date: dt.date, seed: int) -> None:
        self.planted: dict[str, PlantedValue] = {}
        self._date_cursor = study_date - dt.timedelta(days=1)
        self._time_counter = 0
        self._number_counter = 0
        self._nested_counter = 0
        self._seed = seed
        self._uid_counter = 0

    def record(self, token: str, kind: str, where: str) -> str:
        self.planted.setdefault(token, PlantedValue(token, kind, where))
        return token

    def text_token(self, tag: int, nested: bool) -> str:
        if not nested:
            return f"PHI{tag:08X}X"
        self._nested_counter += 1
        return f"PHI{tag:08X}N{_base36(self._nested_counter)}X"

    def date(self, where: str) -> str:
        value = self._date_cursor.strftime("%Y%m%d")
        self._date_cursor -= dt.timedelta(days=1)
        return self.record(value, "date", where)

    def time(self, where: str) -> str:
        self._time_counter += 1
        seconds = 7 * 3600 + self._time_counter * 61
        value = f"{seconds // 3600:02d}{seconds % 3600 // 60:02d}{seconds % 60:02d}"
        return self.record(value, "time", where)

    def number(self, where: str) -> str:
        self._number_counter += 1
        return self.record(f"98{self._number_counter:05d}", "number", where)

    def uid(self, where: str) -> str:
        self._uid_counter += 1
        value = generate_uid(_UID_ROOT, entropy_srcs=[f"phi-{self._seed}-{self._uid_counter}"])
        return self.record(str(value), "uid", where)

    def value_for(self, tag: int, vr: str, where: str, nested: bool) -> object | None:
        """A fake value for a (tag, VR), or None when the VR cannot hold a searchable one."""
        if vr in _TEXT_VRS:
            return self.record(self.text_token(tag, nested), "text", where)
        if vr == "PN":
            family = self.record(self.text_token(tag, nested), "text", where)
            given = self.record(family[:-1] + "GX", "text", where)
            return f"{family}^{given}"
        if vr == "UR":
            token = self.record(self.text_token(tag, nested), "text", where)
            return f"http://example.invalid/{token}"
        if vr == "DA":
            return self.date(where)
        if vr == "DT":
            return self.date(where) + "083015.250000"
        if vr == "TM":
            return self.time(where)
        if vr in ("DS", "IS"):
            return self.number(where)
        if vr == "UI":
            return self.uid(where)
        if vr in _BINARY_VRS:
            token = self.record(self.text_token(tag, nested), "bytes", where)
            raw = token.encode("ascii")
            return raw + b"\x00" * (-len(raw) % 8)  # OD/OV need multiples of 8
        return None  # US/SS/UL/SL/FL/FD/AT/AS: no searchable form


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return digits[number // 36 % 36] + digits[number % 36]


@functools.cache
def _table_rows() -> tuple[dict[str, str], ...]:
    with _TABLE.open(newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def _descriptor(vr: str, identity: dict[str, str]) -> str:
    """Harmless words followed by other planted identifiers, which the cleaner must remove."""
    if vr in _SHORT_VRS:
        return f"AX {identity['family']}"[:16]
    if vr == "LO":  # 64 characters at most
        return f"CHEST ABDOMEN PELVIS {identity['family']} {identity['patient_id']} {identity['accession']}"
    return (
        f"CHEST ABDOMEN PELVIS {identity['family']} {identity['given']} {identity['patient_id']} "
        f"{identity['accession']} {identity['institution']}"
    )


def _phi_item(tag: int, keyword: str, planter: _Planter, depth: int, identity: dict[str, str]) -> Dataset:
    """One sequence item full of identifying values (and what a retained sequence legitimately holds)."""
    where = f"{keyword}[0]"
    item = Dataset()
    item.add(DataElement(0x00080080, "LO", planter.record(planter.text_token(0x00080080, True), "text", where)))
    item.add(DataElement(0x00100010, "PN", planter.value_for(0x00100010, "PN", where, True)))
    item.add(DataElement(0x00090010, "LO", "PHI PRIVATE CREATOR"))
    item.add(DataElement(0x00091001, "LO", planter.record(planter.text_token(0x00091001, True), "text", where)))
    if keyword.endswith("CodeSequence"):
        item.add(DataElement(0x00080100, "SH", "T-D0050"))
        item.add(DataElement(0x00080102, "SH", "SRT"))
        item.add(DataElement(0x00080104, "LO", f"Tissue {identity['family']}"))
    if keyword.startswith("Referenced") or keyword == "SourceImageSequence":
        item.add(DataElement(0x00081150, "UI", CT_IMAGE_STORAGE))
        item.add(DataElement(0x00081155, "UI", planter.uid(f"{where}.ReferencedSOPInstanceUID")))
    if keyword == "OtherPatientIDsSequence":
        item.add(DataElement(0x00100020, "LO", planter.record(planter.text_token(0x00100020, True), "text", where)))
        item.add(DataElement(0x00100021, "LO", planter.record(planter.text_token(0x00100021, True), "text", where)))
    if keyword == "RequestAttributesSequence":
        item.add(DataElement(0x00080050, "SH", planter.record(planter.text_token(0x00080050, True), "text", where)))
        item.add(DataElement(0x00401001, "SH", planter.record(planter.text_token(0x00401001, True), "text", where)))
        item.add(DataElement(0x00400009, "SH", planter.record(planter.text_token(0x00400009, True), "text", where)))
        item.add(DataElement(0x00321060, "LO", _descriptor("LO", identity)))
    if keyword == "ContentSequence" and depth < 2:
        item.add(DataElement(0x0040A160, "UT", planter.record(planter.text_token(0x0040A160, True), "text", where)))
        item.add(DataElement(0x0040A730, "SQ", [_phi_item(tag, keyword, planter, depth + 1, identity)]))
    if keyword == "IconImageSequence":
        token = planter.record(planter.text_token(0x7FE00010, True), "bytes", where).encode("ascii")
        item.add(DataElement(0x00280002, "US", 1))
        item.add(DataElement(0x00280004, "CS", "MONOCHROME2"))
        item.add(DataElement(0x00280010, "US", 4))
        item.add(DataElement(0x00280011, "US", 4))
        item.add(DataElement(0x00280100, "US", 8))
        item.add(DataElement(0x00280101, "US", 8))
        item.add(DataElement(0x00280102, "US", 7))
        item.add(DataElement(0x00280103, "US", 0))
        item.add(DataElement(0x7FE00010, "OB", token.ljust(16, b"\x00")[:16]))
    return item


_PLANTED_ELSEWHERE = frozenset(
    {
        0xFFFAFFFA,  # DigitalSignaturesSequence, after the pixel data
        0xFFFCFFFC,  # DataSetTrailingPadding, after the pixel data
        0x00100010,  # PatientName
        0x00100020,  # PatientID
        0x00080018,  # SOPInstanceUID (one per slice)
        0x0020000D,  # StudyInstanceUID
        0x0020000E,  # SeriesInstanceUID
        0x00200052,  # FrameOfReferenceUID
    }
)


def _plant_phi(ds: Dataset, planter: _Planter, identity: dict[str, str]) -> None:
    """Fill every fillable attribute of Table E.1-1 (and some it does not list) with fake PHI."""
    for row in _table_rows():
        text = row["tag"]
        if not all(char in "0123456789ABCDEF" for char in text[1:5] + text[6:10]):
            continue
        tag = int(text[1:5] + text[6:10], 16)
        group = tag >> 16
        if group in (0x0000, 0x0002, 0x0012) or tag in _PLANTED_ELSEWHERE:
            continue  # command/meta groups; trial group, trailing elements, identity and the series' own UIDs
        keyword = row["keyword"]
        vr = dictionary_VR(tag)
        codes = {row[column] for column in _DEFAULT_OPTION_COLUMNS if row[column]}
        if keyword in _BENIGN_VALUES:
            ds.add(DataElement(tag, vr, _BENIGN_VALUES[keyword]))
            continue
        if "C" in codes and vr in _TEXT_VRS - {"CS", "AE"} and row["retain_long_modified_dates"] != "C":
            ds.add(DataElement(tag, vr, _descriptor(vr, identity)))
            continue
        if vr == "SQ":
            ds.add(DataElement(tag, vr, [_phi_item(tag, keyword, planter, 0, identity)]))
            continue
        value = planter.value_for(tag, vr, keyword, False)
        if value is not None:
            ds.add(DataElement(tag, vr, value))
    # Table rows for the clinical trial group: whatever a site puts there must go.
    for tag, vr in ((0x00120010, "LO"), (0x00120020, "LO"), (0x00120030, "LO"), (0x00120031, "LO"),
                    (0x00120040, "LO"), (0x00120050, "LO"), (0x00120081, "LO")):
        ds.add(DataElement(tag, vr, planter.value_for(tag, vr, f"({tag >> 16:04X},{tag & 0xFFFF:04X})", False)))
    # Attributes the 2024b table does not list (newer editions or never): removed as unknown.
    for tag, vr in ((0x00100033, "LO"), (0x00100034, "LO"), (0x00100035, "CS"), (0x00181010, "LO"),
                    (0x00181011, "LO"), (0x0040A160, "UT"), (0x00100011, "LO"), (0x00081301, "LO")):
        where = f"unlisted ({tag >> 16:04X},{tag & 0xFFFF:04X})"
        ds.add(DataElement(tag, vr, planter.value_for(tag, vr, where, False)))
    # Private elements: a creator with several VRs, a private sequence, an orphan element.
    ds.add(DataElement(0x00190010, "LO", planter.value_for(0x00190010, "LO", "private creator", False)))
    ds.add(DataElement(0x00191001, "LO", planter.value_for(0x00191001, "LO", "private LO", False)))
    ds.add(DataElement(0x00191002, "PN", planter.value_for(0x00191002, "PN", "private PN", False)))
    ds.add(DataElement(0x00191003, "DA", planter.value_for(0x00191003, "DA", "private DA", False)))
    ds.add(DataElement(0x00191004, "OB", planter.value_for(0x00191004, "OB", "private OB", False)))
    ds.add(DataElement(0x00191005, "SQ", [_phi_item(0x00191005, "PrivateSequence", planter, 0, identity)]))
    ds.add(DataElement(0x00291010, "LO", planter.value_for(0x00291010, "LO", "private without creator", False)))
    # Overlay and curve groups (repeating groups 60xx and 50xx).
    ds.add(DataElement(0x60000010, "US", 16))
    ds.add(DataElement(0x60000011, "US", 8))
    ds.add(DataElement(0x60000022, "LO", planter.value_for(0x60000022, "LO", "overlay description", False)))
    ds.add(DataElement(0x60000040, "CS", "G"))
    ds.add(DataElement(0x60000050, "SS", [1, 1]))
    ds.add(DataElement(0x60000100, "US", 1))
    ds.add(DataElement(0x60000102, "US", 0))
    ds.add(DataElement(0x60003000, "OW", planter.value_for(0x60003000, "OB", "overlay data", False).ljust(16, b"\x00")))
    ds.add(DataElement(0x60004000, "LT", planter.value_for(0x60004000, "LT", "overlay comments", False)))
    ds.add(DataElement(0x50002500, "LO", planter.value_for(0x50002500, "LO", "curve label", False)))
    ds.add(DataElement(0x50003000, "OB", planter.value_for(0x50003000, "OB", "curve data", False)))


def _plant_trailing_phi(ds: Dataset, planter: _Planter, identity: dict[str, str]) -> None:
    """Elements that sort after the pixel data: signatures, padding, a private group."""
    ds.add(DataElement(0x7FE10010, "LO", planter.value_for(0x7FE10010, "LO", "trailing private creator", False)))
    ds.add(DataElement(0x7FE11010, "OB", planter.value_for(0x7FE11010, "OB", "trailing private OB", False)))
    ds.add(DataElement(0xFFFAFFFA, "SQ", [_phi_item(0xFFFAFFFA, "DigitalSignaturesSequence", planter, 0, identity)]))
    ds.add(DataElement(0xFFFCFFFC, "OB", planter.value_for(0xFFFCFFFC, "OB", "trailing padding", False)))


def _plant_meta_phi(meta: FileMetaDataset, planter: _Planter) -> None:
    meta.SourceApplicationEntityTitle = planter.value_for(0x00020016, "AE", "meta source AE", False)
    meta.SendingApplicationEntityTitle = planter.value_for(0x00020017, "AE", "meta sending AE", False)
    meta.ReceivingApplicationEntityTitle = planter.value_for(0x00020018, "AE", "meta receiving AE", False)
    meta.PrivateInformationCreatorUID = planter.uid("meta private information creator")
    meta.PrivateInformation = planter.value_for(0x00020102, "OB", "meta private information", False)


# --------------------------------------------------------------------------- pixels


def iter_ct_series(
    n_slices: int,
    *,
    phi: bool = False,
    planted: list[PlantedValue] | None = None,
    study_date: dt.date = dt.date(2024, 3, 14),
    seed: int = 0,
    **kwargs: Any,
) -> Iterator[Dataset]:
    """The phantom series of ictms.phantom; with `phi`, full of fake PHI recorded in `planted`.

    Every planted value is appended to `planted` once, as the slices are generated.
    """
    if not phi:
        yield from phantom.iter_ct_series(n_slices, study_date=study_date, seed=seed, **kwargs)
        return
    first = _Planter(study_date, seed)
    identity = {
        "family": first.record("PHI00100010X", "text", "PatientName"),
        "given": first.record("PHI00100010GX", "text", "PatientName"),
        "patient_id": first.record("PHI00100020X", "text", "PatientID"),
        "accession": "PHI00080050X",
        "institution": "PHI00080080X",
    }
    planters: list[_Planter] = []

    def plant(ds: Dataset, index: int) -> None:
        # Same fake values in every slice (as a real series repeats its
        # patient and study), only the instance UIDs differ.
        planter = _Planter(study_date, seed)
        for key in ("family", "given", "patient_id"):
            planter.record(identity[key], "text", key)
        previous = ds.get("ReferencedImageSequence")
        _plant_phi(ds, planter, identity)
        _plant_trailing_phi(ds, planter, identity)
        _plant_meta_phi(ds.file_meta, planter)
        if previous is not None:
            # Keep the reference to the previous slice next to the planted item.
            ds.ReferencedImageSequence.extend(previous)
        # The identity and the series' own UIDs are PHI too.
        ds.PatientName = "PHI00100010X^PHI00100010GX"
        ds.PatientID = "PHI00100020X"
        for uid_keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
            planter.record(str(getattr(ds, uid_keyword)), "uid", uid_keyword)
        if "ReferencedImageSequence" in ds:
            for item in ds.ReferencedImageSequence:
                planter.record(str(item.ReferencedSOPInstanceUID), "uid", "ReferencedImageSequence")
        planter.record(ds.PatientBirthDate, "date", "PatientBirthDate")
        planter.record("PHI00080050X", "text", "AccessionNumber")
        planter.record("PHI00080080X", "text", "InstitutionName")
        planters.append(planter)

    reported: set[str] = set()
    for ds in phantom.iter_ct_series(n_slices, study_date=study_date, seed=seed, identity=identity, decorate=plant,
                                     **kwargs):
        if planted is not None:
            for token, value in planters[-1].planted.items():
                if token not in reported:
                    reported.add(token)
                    planted.append(value)
        yield ds


def make_ct_series(n_slices: int, **kwargs: Any) -> SyntheticSeries:
    """Build a whole series in memory (see iter_ct_series for the arguments)."""
    planted: list[PlantedValue] = []
    datasets = list(iter_ct_series(n_slices, planted=planted, **kwargs))
    return SyntheticSeries(datasets=datasets, planted=planted)


def write_ct_series(out_dir: str | Path, n_slices: int, **kwargs: Any) -> SyntheticSeries:
    """Write a series to `out_dir` as IMG00001.dcm... one slice at a time; return the planted values.

    The returned SyntheticSeries has no datasets (they are not kept in memory).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    planted: list[PlantedValue] = []
    for ds in iter_ct_series(n_slices, planted=planted, **kwargs):
        dcmwrite(out / f"IMG{int(ds.InstanceNumber):05d}.dcm", ds, enforce_file_format=True)
    return SyntheticSeries(datasets=[], planted=planted)



# --------------------------------------------------------------------------- other objects


def _small_image(sop_class: str, modality: str, seed: int, *, burned_in: bool, rgb: bool) -> Dataset:
    rng = np.random.default_rng(seed)
    rows, cols = 64, 80
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = _uid(seed, f"{modality}-instance")
    ds.StudyDate = ds.ContentDate = "20240314"
    ds.StudyTime = ds.ContentTime = "101010"
    ds.AccessionNumber = "ACC0002"
    ds.Modality = modality
    ds.Manufacturer = "ICTMS Synthetic"
    ds.InstitutionName = "SYNTHETIC HOSPITAL"
    ds.ReferringPhysicianName = "WHO^REFERRED"
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MRN000001"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = _uid(seed, f"{modality}-study")
    ds.SeriesInstanceUID = _uid(seed, f"{modality}-series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if modality == "US" else ["DERIVED", "SECONDARY"]
    if rgb:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        pixels = rng.integers(0, 255, (rows, cols, 3), dtype=np.uint8)
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        pixels = rng.integers(0, 255, (rows, cols), dtype=np.uint8)
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def make_ultrasound(*, burned_in: bool = True, seed: int = 0, transfer_syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """A small RGB ultrasound image (BurnedInAnnotation YES by default)."""
    ds = _small_image(US_IMAGE_STORAGE, "US", seed, burned_in=burned_in, rgb=True)
    return _encode(ds, transfer_syntax)


def make_secondary_capture(
    *, burned_in: bool = False, seed: int = 0, transfer_syntax: str = ExplicitVRLittleEndian
) -> Dataset:
    """A small 8-bit secondary capture (a screen capture, as sites send)."""
    ds = _small_image(SECONDARY_CAPTURE_STORAGE, "OT", seed, burned_in=burned_in, rgb=False)
    ds.ConversionType = "WSD"
    return _encode(ds, transfer_syntax)


def make_file_without_meta(ds: Dataset | None = None) -> bytes:
    """The data set alone, implicit VR little endian, no preamble and no file meta (as old scanners write)."""
    ds = ds if ds is not None else make_ct_series(1, rows=64, cols=64).datasets[0]
    out = Dataset()
    out.update(ds)
    buffer = io.BytesIO()
    dcmwrite(buffer, out, implicit_vr=True, little_endian=True)
    return buffer.getvalue()


def make_truncated(data: bytes, *, keep: float | int = 0.6) -> bytes:
    """The first part of a file: a fraction (float) or a byte count (int)."""
    count = int(len(data) * keep) if isinstance(keep, float) else keep
    return data[:count]


def make_not_dicom() -> bytes:
    return b"%PDF-1.4\n% not a DICOM file, a report somebody dropped into the folder\n" + bytes(range(256)) * 4


def make_empty_file() -> bytes:
    return b""


def make_dicomdir() -> bytes:
    """A minimal DICOMDIR (the index a CD export carries)."""
    ds = Dataset()
    ds.FileSetID = "SYNTHETIC"
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    ds.DirectoryRecordSequence = DicomSequence([])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = _uid(0, "dicomdir")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return to_bytes(ds)
