"""De-identify one DICOM file: the header is rewritten per PS3.15, the pixel data is copied byte for byte.

How a file goes through:

1. Sniff: empty, "DICM" at offset 128, or a bare dataset (no preamble, no
   file meta) that starts like one; anything else is not DICOM.
2. Parse the header only, up to the pixel data: the lean reader
   (fastread.py) for ordinary little endian files, pydicom's reader for
   everything else. Element values stay raw bytes.
3. Walk every element once, top level and inside every kept sequence item,
   and apply the resolved action of its tag (profile.py) while encoding
   the output (rewrite.py). Unknown tags are removed, private tags are
   removed unless on the safe list.
4. Write group 0012 (clinical trial identification and what was done),
   a fresh file meta, and the cleaned header; then copy the pixel data
   element from the source unchanged (native or encapsulated, any transfer
   syntax), checking its length so a truncated file is refused. Anything
   after the pixel data (padding, digital signatures, trailing private
   groups) is dropped: the profile removes all of it.

Nothing here logs or raises a value from the file. pydicom's own warnings
and validation messages can quote values and file names, so they are
silenced while a file is processed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import logging
import os
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import BinaryIO, Literal, NotRequired, TypedDict, cast, overload

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import dcmread, read_dataset
from pydicom.multival import MultiValue

from .bounds import check_file
from .context import ContextFactory, DeidContext, patient_key
from .descriptors import IDENTIFYING_KEYWORDS, PERSON_NAME_KEYWORDS, Identity, build_identity, scrubber_for
from .errors import EmptyFileError, NotDicomError, SkippedFile, TooComplexError, TruncatedError, UnsupportedError
from .fastread import read_header_fast
from .pixels import PixelReport, PixelSource, RedactedPixels, burned_in_reasons, clean_pixel_data
from .profile import resolve_profile
from .rewrite import Encoder, Rewriter, encoded_trial_elements, settle_raw_elements

__all__ = [
    "IMPLEMENTATION_CLASS_UID",
    "DeidResult",
    "PreparedFile",
    "deidentify_bytes",
    "deidentify_file",
    "prepare",
    "remap_uid",
]

ContextLike = DeidContext | ContextFactory

IMPLEMENTATION_CLASS_UID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'https://ictms.invalid/deid').int}"
IMPLEMENTATION_VERSION_NAME = "ICTMS_DEID_1"

_DEFLATED = "1.2.840.10008.1.2.1.99"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
_NATIVE_SYNTAXES = frozenset({_IMPLICIT_LE, _EXPLICIT_LE, _EXPLICIT_BE, _DEFLATED})
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_ULTRASOUND_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",  # US Image
        "1.2.840.10008.5.1.4.1.1.3.1",  # US Multi-frame Image
        "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
    }
)
_PIXEL_TAGS = {0x7FE00010: 0, 0x7FE00008: 32, 0x7FE00009: 64}  # tag -> fixed bits per sample
_LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_UNDEFINED = 0xFFFFFFFF
_COPY_CHUNK = 1 << 20

# Attributes read from the original header before it is cleaned.
_PATIENT_ID, _PATIENT_NAME, _BIRTH_DATE = 0x00100020, 0x00100010, 0x00100030
_SOP_CLASS, _SOP_INSTANCE = 0x00080016, 0x00080018
_DIRECTORY_RECORDS = 0x00041220

# --------------------------------------------------------------------------- UIDs


def remap_uid(secret: bytes, uid: str) -> str:
    """Return the de-identified UID for `uid`: 2.25.<UUID derived from HMAC-SHA256(secret, uid)>.

    The first 128 bits of the HMAC are laid out as an RFC 9562 version 8
    UUID, so the result is a valid 2.25 UID (at most 44 characters). Same
    secret and UID give the same new UID; without the secret it cannot be
    reversed or recomputed.
    """
    digest = hmac.new(secret, uid.encode("ascii", "replace"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:16], "big")
    number = (number & ~(0xF << 76)) | (0x8 << 76)  # version 8
    number = (number & ~(0x3 << 62)) | (0x2 << 62)  # RFC variant
    return f"2.25.{number}"


# --------------------------------------------------------------------------- quiet pydicom

_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[int, int, bool] = (0, 0, False)
_pydicom_logger = logging.getLogger("pydicom")


@contextmanager
def _pydicom_silenced() -> Iterator[None]:
    """Stop pydicom from logging or warning with values of the file being processed.

    pydicom's validation messages quote element values (PHI) and its reader
    quotes file names. Validation is switched off (the engine writes valid
    values itself) and the pydicom logger is muted. Reference-counted so
    threads that overlap restore the settings only when the last one leaves.
    """
    global _quiet_depth, _quiet_saved  # noqa: PLW0603 - reference-counted settings shared by every thread
    with _quiet_lock:
        if _quiet_depth == 0:
            settings = pydicom_config.settings
            _quiet_saved = (
                settings.reading_validation_mode,
                settings.writing_validation_mode,
                _pydicom_logger.disabled,
            )
            settings.reading_validation_mode = pydicom_config.IGNORE
            settings.writing_validation_mode = pydicom_config.IGNORE
            _pydicom_logger.disabled = True
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                settings = pydicom_config.settings
                settings.reading_validation_mode, settings.writing_validation_mode, disabled = _quiet_saved
                _pydicom_logger.disabled = disabled


class _Nameless:
    """A file-like without a `name`, so that no pydicom message can quote the path.

    Its reads never ask for more than the file still holds: pydicom reads a value with
    `read(length)` of its length field, and a real file's read(n) allocates n bytes before it
    reads, so a damaged length of 0xFFFFFFFE in a 40 KB file would allocate 4 GB.
    """

    __slots__ = ("_fp", "_size", "seek", "tell")

    def __init__(self, fp: BinaryIO, size: int) -> None:
        self._fp = fp
        self._size = size
        self.seek = fp.seek
        self.tell = fp.tell

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return self._fp.read()
        return self._fp.read(min(n, max(self._size - self._fp.tell(), 0)))


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class DeidResult:
    """What the database needs about a de-identified instance. Every value comes from the output (no PHI).

    `original_patient_key` is a keyed hash of the original patient identity
    (see context.patient_key): equal keys mean the same patient, without
    storing who. `qc_flags` name what QC must look at: "burned_in_annotation"
    (declared YES), "recognizable_visual_features", "ultrasound",
    "secondary_capture".

    `burned_in` is the Clean Pixel Data outcome (pixels.PixelReport): why
    the image may carry burned-in text (declared, modality, capture, OCR
    hit), the regions blanked in every frame (frame, x, y, w, h, source
    "ocr" / "rule" / "qc") and whether it still needs a person's review
    (flagged and not redacted). `cleaned_descriptors` are the top-level
    descriptors as written to the output (keyword, value), what QC shows.
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    frame_of_reference_uid: str
    transfer_syntax_uid: str
    modality: str
    subject_code: str
    study_date: str
    series_date: str
    acquisition_date: str
    series_number: int | None
    instance_number: int | None
    acquisition_number: int | None
    study_description: str
    series_description: str
    body_part_examined: str
    manufacturer: str
    manufacturer_model_name: str
    patient_sex: str
    patient_age: str
    rows: int | None
    columns: int | None
    number_of_frames: int
    bits_allocated: int | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    pixel_spacing: tuple[float, float] | None
    image_position_patient: tuple[float, float, float] | None
    image_orientation_patient: tuple[float, float, float, float, float, float] | None
    slice_location: float | None
    has_contrast: bool
    contrast_bolus_agent: str
    original_patient_key: str
    qc_flags: tuple[str, ...]
    private_elements_removed: int
    sha256: str
    size: int
    burned_in: PixelReport = field(default_factory=PixelReport)
    cleaned_descriptors: tuple[tuple[str, str], ...] = ()
    study_time: str = ""  # as written (shifted with the dates)
    photometric_interpretation: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def review_required(self) -> bool:
        """Flagged as possibly carrying burned-in text and not redacted: a person must look before release."""
        return self.burned_in.review_required


class _HeaderValues(TypedDict):
    """The DeidResult fields read from the rewritten header values."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    frame_of_reference_uid: str
    modality: str
    subject_code: str
    study_date: str
    series_date: str
    acquisition_date: str
    series_number: int | None
    instance_number: int | None
    acquisition_number: int | None
    study_description: str
    series_description: str
    body_part_examined: str
    manufacturer: str
    manufacturer_model_name: str
    patient_sex: str
    patient_age: str
    rows: int | None
    columns: int | None
    number_of_frames: int
    bits_allocated: int | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    pixel_spacing: tuple[float, float] | None
    image_position_patient: tuple[float, float, float] | None
    image_orientation_patient: tuple[float, float, float, float, float, float] | None
    slice_location: float | None
    contrast_bolus_agent: str
    study_time: str
    photometric_interpretation: str


class _RewriteSummary(_HeaderValues):
    """The DeidResult fields known once the header is rewritten."""

    has_contrast: bool
    original_patient_key: str
    qc_flags: tuple[str, ...]
    private_elements_removed: int
    cleaned_descriptors: tuple[tuple[str, str], ...]


class PreparedFields(_RewriteSummary):
    """The DeidResult fields known before writing: all but sha256 and size (no pixel outcome: nothing was found)."""

    transfer_syntax_uid: str
    burned_in: NotRequired[PixelReport]


@dataclass
class PreparedFile:
    """A de-identified header waiting to be written, and where the pixel data sits in the source.

    `fields` are the DeidResult fields known before writing (all but sha256
    and size). `tail_offset` and `tail_length` locate the pixel data element
    in the source; the length is 0 when the object has no pixel data or was
    rewritten whole (deflated files). The output is `header` + that range.
    """

    header: bytes
    tail_offset: int
    tail_length: int
    fields: PreparedFields
    tail_bytes: bytes = b""  # a rewritten pixel data element (Clean Pixel Data) written instead of the source range

    @property
    def sop_instance_uid(self) -> str:
        return self.fields["sop_instance_uid"]

    @property
    def study_instance_uid(self) -> str:
        return self.fields["study_instance_uid"]

    @property
    def series_instance_uid(self) -> str:
        return self.fields["series_instance_uid"]

    def write(self, source: BinaryIO, destination: BinaryIO) -> DeidResult:
        """Write header + pixel data to `destination`, return the result with the output's SHA-256 and size."""
        digest = hashlib.sha256(self.header)
        destination.write(self.header)
        size = len(self.header)
        if self.tail_bytes:
            digest.update(self.tail_bytes)
            destination.write(self.tail_bytes)
            size += len(self.tail_bytes)
        elif self.tail_length:
            source.seek(self.tail_offset)
            remaining = self.tail_length
            while remaining:
                chunk = source.read(min(_COPY_CHUNK, remaining))
                if not chunk:
                    raise TruncatedError()
                digest.update(chunk)
                destination.write(chunk)
                remaining -= len(chunk)
            size += self.tail_length
        return DeidResult(**self.fields, sha256=digest.hexdigest(), size=size)


# --------------------------------------------------------------------------- reading


_FIRST_GROUPS = (0x0000, 0x0002, 0x0004, 0x0008)


def _plausible_bare_dataset(head: bytes, size: int) -> bool:
    """Whether a file without preamble starts like a DICOM data set (implicit or explicit VR).

    Scanners that write no file meta start with group 0008 (or a group
    length); a file meta without preamble starts with group 0002. This only
    screens out obvious non-DICOM: the SOP Class and Instance UIDs are
    checked after parsing.
    """
    if len(head) < 8:
        return False
    group_le = struct.unpack_from("<H", head)[0]
    group_be = struct.unpack_from(">H", head)[0]
    vr = head[4:6]
    explicit = vr.isalpha() and vr.isupper()
    if group_le in _FIRST_GROUPS:
        return explicit or struct.unpack_from("<L", head, 4)[0] < size
    return group_be in _FIRST_GROUPS and explicit


def _read_header(fp: BinaryIO, size: int, *, whole: bool = False) -> tuple[Dataset, bool]:
    """Parse the header (or the whole file); return the dataset and whether it had a preamble."""
    if size == 0:
        raise EmptyFileError()
    fp.seek(0)
    head = fp.read(132)
    fp.seek(0)
    has_preamble = len(head) == 132 and head[128:132] == b"DICM"
    if not has_preamble and not _plausible_bare_dataset(head, size):
        raise NotDicomError()
    try:
        dataset = dcmread(_Nameless(fp, size), stop_before_pixels=not whole, force=not has_preamble)
    # pydicom is handed untrusted bytes and fails on garbage in many ways
    # (struct.error, ValueError, KeyError, EOFError, ...); all of them mean
    # the same thing to the site, and their messages may quote file values.
    except Exception:  # noqa: BLE001
        at_end = fp.tell() >= size
        raise (TruncatedError() if at_end and has_preamble else NotDicomError()) from None
    settle_raw_elements(dataset)
    if getattr(dataset, "file_meta", None) is not None:
        settle_raw_elements(dataset.file_meta)
    return dataset, has_preamble


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, MultiValue)):
        return "\\".join(str(item) for item in value)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def _get_text(dataset: Dataset, tag: int) -> str:
    """The value of `tag` as text, without converting the element in the dataset (it is written raw later)."""
    item = dataset.get_item(tag)
    if item is None:
        return ""
    if isinstance(item, RawDataElement):
        value = item.value
        return value.decode("latin-1").strip(" \x00") if isinstance(value, bytes) else ""
    return _text(item.value).strip(" \x00")


def _looks_like_uid(value: str) -> bool:
    return 0 < len(value) <= 64 and all(char.isdigit() or char == "." for char in value)


def _check_complete(fp: BinaryIO, size: int, dataset: Dataset, little_endian: bool) -> None:
    """Refuse a header cut off at the end of the file (pydicom reads short values silently)."""
    if not len(dataset):
        raise TruncatedError()
    last_tag = list(dataset.keys())[-1]  # the element read last (keys() is typed as a set, without an order)
    last = dataset.get_item(last_tag)
    if isinstance(last, RawDataElement):
        if last.length == _UNDEFINED:
            return
        value = last.value or b""
        if len(value) < last.length or last.value_tell + last.length != size:
            raise TruncatedError()
        return
    if not (last.VR == "SQ" and last.is_undefined_length):
        return  # an element pydicom decoded while reading (an empty one): complete
    # An undefined-length sequence parsed by pydicom: the file must end with
    # its Sequence Delimitation Item.
    fp.seek(max(size - 8, 0))
    delimiter = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00" if little_endian else b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"
    if fp.read(8) != delimiter:
        raise TruncatedError()


def _check_trailing(fp: BinaryIO, start: int, size: int, implicit: bool, little_endian: bool) -> None:
    """Refuse a file cut inside the elements that follow its pixel data (they are dropped, but must be whole)."""
    fp.seek(start)
    try:
        trailing = read_dataset(cast(BinaryIO, _Nameless(fp, size)), implicit, little_endian)  # read, seek, tell suffice
    except Exception:  # noqa: BLE001 - untrusted bytes, see _read_header
        raise TruncatedError() from None
    if not len(trailing):
        raise TruncatedError()  # fewer than 8 bytes left: half an element header
    settle_raw_elements(trailing)
    _check_complete(fp, size, trailing, little_endian)


def _pixel_element_length(
    fp: BinaryIO, start: int, size: int, implicit: bool, little_endian: bool
) -> tuple[int, int, int | None]:
    """Return (tag, element length in bytes, value length or None if encapsulated) of the pixel element at `start`."""
    endian = "<" if little_endian else ">"
    fp.seek(start)
    header = fp.read(8)
    if len(header) < 8:
        raise TruncatedError()
    group, element = struct.unpack(endian + "HH", header[:4])
    tag = group << 16 | element
    if tag not in _PIXEL_TAGS:
        raise UnsupportedError("unexpected data after the header")
    if implicit:
        length = struct.unpack(endian + "L", header[4:8])[0]
        header_length = 8
    elif not (header[4:6].isalpha() and header[4:6].isupper()):
        raise UnsupportedError("damaged pixel data element")
    elif header[4:6] in _LONG_LENGTH_VRS:
        extra = fp.read(4)
        if len(extra) < 4:
            raise TruncatedError()
        length = struct.unpack(endian + "L", extra)[0]
        header_length = 12
    else:
        length = struct.unpack(endian + "H", header[6:8])[0]
        header_length = 8
    if length != _UNDEFINED:
        total = header_length + length
        if start + total > size:
            raise TruncatedError()
        return tag, total, length
    # Encapsulated: a Basic Offset Table item, fragment items, then a
    # Sequence Delimitation Item. Walk the item headers only.
    position = start + header_length
    while True:
        fp.seek(position)
        item = fp.read(8)
        if len(item) < 8:
            raise TruncatedError()
        item_group, item_element, item_length = struct.unpack(endian + "HHL", item)
        if item_group != 0xFFFE:
            raise UnsupportedError("damaged encapsulated pixel data")
        if item_element == 0xE000:
            if item_length == _UNDEFINED:
                raise UnsupportedError("damaged encapsulated pixel data")
            position += 8 + item_length
            if position > size:
                raise TruncatedError()
        elif item_element == 0xE0DD:
            return tag, position + 8 - start, None
        else:
            raise UnsupportedError("damaged encapsulated pixel data")


def _int_value(dataset: Dataset, tag: int) -> int | None:
    """An integer attribute (US, IS) without converting the element in the dataset."""
    item = dataset.get_item(tag)
    if item is None:
        return None
    if isinstance(item, RawDataElement):
        value = item.value if isinstance(item.value, bytes) else b""
        vr = item.VR or dictionary_VR(tag)
        if vr in ("US", "UL", "SS", "SL"):
            code = {"US": "H", "UL": "L", "SS": "h", "SL": "l"}[vr]
            code = ("<" if item.is_little_endian else ">") + code
            return struct.unpack_from(code, value)[0] if len(value) >= struct.calcsize(code) else None
        text = value.decode("latin-1").strip(" \x00").split("\\")[0]
    else:
        value = item.value
        if isinstance(value, (list, MultiValue)):
            value = value[0] if len(value) else None
        text = "" if value is None else str(value)
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def _expected_native_length(dataset: Dataset, fixed_bits: int) -> int | None:
    rows, columns = _int_value(dataset, 0x00280010), _int_value(dataset, 0x00280011)
    if not rows or not columns:
        return None
    samples = _int_value(dataset, 0x00280002) or 1
    frames = _int_value(dataset, 0x00280008) or 1
    bits = fixed_bits or _int_value(dataset, 0x00280100) or 0
    if not bits:
        return None
    if samples == 3 and _get_text(dataset, 0x00280004).upper() == "YBR_FULL_422":
        samples = 2  # chroma subsampled horizontally: two samples per pixel on average
    return (rows * columns * samples * frames * bits + 7) // 8



# --------------------------------------------------------------------------- summary

# Top-level attributes whose output values the summary reports.
_WATCHED_KEYWORDS = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "FrameOfReferenceUID",
    "Modality", "StudyDate", "SeriesDate", "AcquisitionDate", "SeriesNumber", "InstanceNumber",
    "AcquisitionNumber", "StudyDescription", "SeriesDescription", "BodyPartExamined", "Manufacturer",
    "ManufacturerModelName", "PatientSex", "PatientAge", "Rows", "Columns", "NumberOfFrames",
    "BitsAllocated", "SliceThickness", "SpacingBetweenSlices", "PixelSpacing", "ImagerPixelSpacing",
    "ImagePositionPatient", "ImageOrientationPatient", "SliceLocation", "ContrastBolusAgent", "StudyTime",
    "PhotometricInterpretation",
)


def _tag(keyword: str) -> int:
    """The tag of a keyword of the standard dictionary; the keywords here are constants, so an unknown one is a bug."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"not a DICOM keyword: {keyword}")
    return tag


_WATCHED = {keyword: _tag(keyword) for keyword in _WATCHED_KEYWORDS}
_WATCHED_TAGS = frozenset(_WATCHED.values())


def _float(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _integer(text: str) -> int | None:
    number = _float(text.split("\\", maxsplit=1)[0]) if text else None
    return int(number) if number is not None else None


@overload
def _floats(text: str, count: Literal[2]) -> tuple[float, float] | None: ...
@overload
def _floats(text: str, count: Literal[3]) -> tuple[float, float, float] | None: ...
@overload
def _floats(text: str, count: Literal[6]) -> tuple[float, float, float, float, float, float] | None: ...
def _floats(text: str, count: int) -> tuple[float, ...] | None:
    """Exactly `count` numbers separated by backslashes, or None."""
    if not text:
        return None
    parts = text.split("\\")
    numbers = [number for part in parts if (number := _float(part.strip())) is not None]
    if len(parts) != count or len(numbers) != count:  # a part that is not a number is left out of `numbers`
        return None
    return tuple(numbers)


def _functional_group_value(dataset: Dataset, sequence: str, inner: str, keyword: str) -> str:
    """A geometry value from the first functional group item (enhanced multi-frame objects)."""
    if _tag(sequence) not in dataset:
        return ""
    try:
        groups = dataset[sequence]
        if groups.VR != "SQ" or not groups.value or inner not in groups.value[0]:
            return ""
        items = groups.value[0][inner]
        if items.VR != "SQ" or not items.value or keyword not in items.value[0]:
            return ""
        return _text(items.value[0][keyword].value)
    except Exception:  # noqa: BLE001 - a damaged sequence (dropped from the output too): no geometry from it
        return ""


def _summary_fields(final: Mapping[int, str], dataset: Dataset, context: DeidContext) -> _HeaderValues:
    """Key header values of the output (from the rewritten values), for the caller's database and QC."""

    def text(keyword: str) -> str:
        return final.get(_WATCHED[keyword], "").strip(" \x00")

    def geometry(keyword: str, inner: str, per_frame: bool = False) -> str:
        value = text(keyword)
        if value or (0x52009229 not in dataset and 0x52009230 not in dataset):
            return value
        sequence = "PerFrameFunctionalGroupsSequence" if per_frame else "SharedFunctionalGroupsSequence"
        return _functional_group_value(dataset, sequence, inner, keyword)

    return {
        "study_instance_uid": text("StudyInstanceUID"),
        "series_instance_uid": text("SeriesInstanceUID"),
        "sop_instance_uid": text("SOPInstanceUID"),
        "sop_class_uid": text("SOPClassUID"),
        "frame_of_reference_uid": text("FrameOfReferenceUID"),
        "modality": text("Modality"),
        "subject_code": context.subject_code,
        "study_date": text("StudyDate"),
        "series_date": text("SeriesDate"),
        "acquisition_date": text("AcquisitionDate"),
        "series_number": _integer(text("SeriesNumber")),
        "instance_number": _integer(text("InstanceNumber")),
        "acquisition_number": _integer(text("AcquisitionNumber")),
        "study_description": text("StudyDescription"),
        "series_description": text("SeriesDescription"),
        "body_part_examined": text("BodyPartExamined"),
        "manufacturer": text("Manufacturer"),
        "manufacturer_model_name": text("ManufacturerModelName"),
        "patient_sex": text("PatientSex"),
        "patient_age": text("PatientAge"),
        "rows": _integer(text("Rows")),
        "columns": _integer(text("Columns")),
        "number_of_frames": _integer(text("NumberOfFrames")) or 1,
        "bits_allocated": _integer(text("BitsAllocated")),
        "slice_thickness": _float(geometry("SliceThickness", "PixelMeasuresSequence")),
        "spacing_between_slices": _float(geometry("SpacingBetweenSlices", "PixelMeasuresSequence")),
        "pixel_spacing": _floats(geometry("PixelSpacing", "PixelMeasuresSequence") or text("ImagerPixelSpacing"), 2),
        "image_position_patient": _floats(geometry("ImagePositionPatient", "PlanePositionSequence", True), 3),
        "image_orientation_patient": _floats(geometry("ImageOrientationPatient", "PlaneOrientationSequence"), 6),
        "slice_location": _float(text("SliceLocation")),
        "contrast_bolus_agent": text("ContrastBolusAgent"),
        "study_time": text("StudyTime"),
        "photometric_interpretation": text("PhotometricInterpretation"),
    }


def _qc_flags(dataset: Dataset, sop_class: str) -> tuple[str, ...]:
    flags = []
    if _get_text(dataset, 0x00280301).upper() == "YES":
        flags.append("burned_in_annotation")
    if _get_text(dataset, 0x00280302).upper() == "YES":
        flags.append("recognizable_visual_features")
    if _get_text(dataset, 0x00080060).upper() == "US" or sop_class in _ULTRASOUND_SOP_CLASSES:
        flags.append("ultrasound")
    if sop_class.startswith(_SECONDARY_CAPTURE_PREFIX):
        flags.append("secondary_capture")
    return tuple(flags)


def _has_contrast(dataset: Dataset) -> bool:
    return bool(_get_text(dataset, 0x00180010)) or 0x00180012 in dataset


_IDENTIFYING_TAGS = tuple((keyword, _tag(keyword)) for keyword in IDENTIFYING_KEYWORDS)
# Names, IDs and addresses are short (a person name's component group at most 64 characters, LO 64, ST 1024).
# The scrubber compiles all of them into one expression, and every fragment of a surname into a set (quadratic
# in its length): a crafted name of 250 KB cost seconds, of a few MB minutes and gigabytes. Longer is refused.
_MAX_NAME_CHARACTERS = 256
_MAX_VALUE_CHARACTERS = 1024
_MAX_IDENTITY_CHARACTERS = 16 * 1024


def _check_identity_size(values: dict[str, list[str]]) -> None:
    total = 0
    for keyword, parts in values.items():
        longest = _MAX_NAME_CHARACTERS if keyword in PERSON_NAME_KEYWORDS else _MAX_VALUE_CHARACTERS
        total += sum(len(part) for part in parts)
        if total > _MAX_IDENTITY_CHARACTERS or any(len(part) > longest for part in parts):
            raise TooComplexError("its patient's name, IDs or addresses are longer than in any real DICOM object")


def _identity(dataset: Dataset, codec: str | None) -> Identity:
    """The participant's identity values in the original header, decoded with its character set."""
    values: dict[str, list[str]] = {}
    for keyword, tag in _IDENTIFYING_TAGS:
        item = dataset.get_item(tag)
        if item is None:
            continue
        if codec is not None and isinstance(item, RawDataElement) and isinstance(item.value, bytes):
            text = item.value.decode(codec, "replace")
        else:
            try:
                text = _text(dataset[tag].value)
            except Exception:  # noqa: BLE001, S112 - undecodable: nothing to look for (the element is removed anyway)
                continue
        parts = [part.strip(" \x00") for part in text.split("\\") if part.strip(" \x00")]
        if parts:
            values[keyword] = parts
    try:
        other_ids = dataset[0x00101002].value if 0x00101002 in dataset else ()  # OtherPatientIDsSequence
        for entry in other_ids or ():
            if 0x00100020 in entry:
                values.setdefault("OtherPatientIDs", []).append(_text(entry[0x00100020].value).strip())
    except Exception:  # noqa: BLE001, S110 - a damaged sequence: removed anyway
        pass
    _check_identity_size(values)
    return _cached_identity(tuple((keyword, tuple(parts)) for keyword, parts in values.items()))


@functools.lru_cache(maxsize=64)  # the files of a series share a patient
def _cached_identity(values: tuple[tuple[str, tuple[str, ...]], ...]) -> Identity:
    return build_identity({keyword: list(parts) for keyword, parts in values})


# --------------------------------------------------------------------------- the pipeline


def _resolve_context(dataset: Dataset, context: ContextLike) -> tuple[DeidContext, str]:
    key = patient_key(
        context.key_secret,
        _get_text(dataset, _PATIENT_ID),
        _get_text(dataset, _PATIENT_NAME),
        _get_text(dataset, _BIRTH_DATE),
    )
    resolved = context if isinstance(context, DeidContext) else context(key)
    return resolved, key


def prepare(fp: BinaryIO, size: int, context: ContextLike) -> PreparedFile:
    """De-identify the header of the DICOM file open in `fp` (`size` bytes long).

    Raises EmptyFileError, NotDicomError, TruncatedError, UnsupportedError,
    or SkippedFile for a DICOMDIR.
    """
    with _pydicom_silenced():
        try:
            return _prepare(fp, size, context)
        except RecursionError:
            # Nesting deep enough to exhaust the stack is a crafted file, whichever parser met it first.
            raise TooComplexError() from None


def _sniff(fp: BinaryIO, size: int) -> None:
    """Refuse empty files and files that do not even start like DICOM, before any parsing."""
    if size == 0:
        raise EmptyFileError()
    fp.seek(0)
    head = fp.read(132)
    has_preamble = len(head) == 132 and head[128:132] == b"DICM"
    if not has_preamble and not _plausible_bare_dataset(head, size):
        raise NotDicomError()


def _prepare(fp: BinaryIO, size: int, context: ContextLike) -> PreparedFile:
    _sniff(fp, size)
    check_file(fp, size)  # inflated size and element count, before any parser does the work
    fast = read_header_fast(fp, size)
    if fast is not None:
        # The lean reader checked every length against the file: the header is whole.
        dataset, has_preamble, meta, position = fast.dataset, fast.has_preamble, fast.meta, fast.pixel_position
    else:
        dataset, has_preamble = _read_header(fp, size)
        file_meta = getattr(dataset, "file_meta", None) or FileMetaDataset()
        meta = {
            name: _text(file_meta.get(name)).strip(" \x00")
            for name in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID")
        }
        position = fp.tell()
    meta_class = meta.get("MediaStorageSOPClassUID", "")
    if meta_class == _DICOMDIR_SOP_CLASS or _DIRECTORY_RECORDS in dataset:
        raise SkippedFile("DICOMDIR")

    implicit, little_endian = dataset.original_encoding
    if implicit is None or little_endian is None or not len(dataset):  # nothing after the file meta
        raise TruncatedError()
    syntax = meta.get("TransferSyntaxUID", "")
    if fast is None and position >= size and syntax != _DEFLATED:
        # No pixel data element was reached: the header must end exactly at
        # the end of the file (pydicom reads a cut-off value silently).
        _check_complete(fp, size, dataset, little_endian)
    sop_class = _get_text(dataset, _SOP_CLASS) or meta_class
    sop_instance = _get_text(dataset, _SOP_INSTANCE)
    if not has_preamble and not (_looks_like_uid(sop_class) and _looks_like_uid(sop_instance)):
        raise NotDicomError()
    if not sop_class:
        raise UnsupportedError("the file has no SOP Class UID")
    if not sop_instance:
        raise UnsupportedError("the file has no SOP Instance UID")

    if syntax == _DEFLATED:
        return _prepare_deflated(fp, size, context, sop_class)
    actual_syntax = _IMPLICIT_LE if implicit else (_EXPLICIT_LE if little_endian else _EXPLICIT_BE)
    if not syntax or (syntax in _NATIVE_SYNTAXES and syntax != actual_syntax):
        # No file meta, or a meta that disagrees with how the data set is
        # really encoded: name the encoding we found, so the copied pixel
        # data element matches the transfer syntax we write.
        syntax = actual_syntax
    elif implicit and syntax not in _NATIVE_SYNTAXES:
        # Compressed pixel data must sit in an explicit VR little endian data set (PS3.5 A.4).
        raise UnsupportedError("the header encoding does not match its transfer syntax")

    value_length: int | None = None
    pixel_tag = 0
    if position < size:
        pixel_tag, tail_length, value_length = _pixel_element_length(fp, position, size, implicit, little_endian)
        if position + tail_length < size:
            _check_trailing(fp, position + tail_length, size, implicit, little_endian)
        if value_length is not None:
            if syntax not in _NATIVE_SYNTAXES:
                raise UnsupportedError("pixel data not encapsulated as its transfer syntax requires")
            expected = _expected_native_length(dataset, _PIXEL_TAGS[pixel_tag])
            if expected is not None and value_length < expected:
                raise TruncatedError()
        elif syntax in _NATIVE_SYNTAXES:
            raise UnsupportedError("compressed pixel data in an uncompressed transfer syntax")
    else:
        tail_length = 0
        if 0x00280010 in dataset and 0x00280011 in dataset:
            raise TruncatedError()  # an image whose pixel data is missing
    # Float pixel data, or none: nothing to search.
    position_for_pixels = position if pixel_tag == 0x7FE00010 else -1

    resolved, key = _resolve_context(dataset, context)
    source = _pixel_source(dataset, sop_class, syntax, little_endian, position_for_pixels, tail_length, value_length)
    reasons = burned_in_reasons(source, resolved.options) if source is not None else ()
    entries, summary = _rewrite(dataset, resolved, key, sop_class, implicit, little_endian)
    report, redacted = PixelReport(reasons), None
    if reasons and source is not None:
        if not resolved.options.clean_pixel_data:
            report = PixelReport(reasons, note="Clean Pixel Data is off")
        else:
            extra = resolved.regions_for_series(summary["series_instance_uid"])
            report, redacted = clean_pixel_data(fp, source, reasons, resolved.options, extra, implicit=implicit)
    if redacted is not None:
        entries = _after_redaction(entries, redacted, resolved, implicit, little_endian, dataset)
        syntax = redacted.transfer_syntax
    fields: PreparedFields = {**summary, "transfer_syntax_uid": syntax, "burned_in": report}
    body = b"".join(encoded for _, encoded in entries)
    header = _PREAMBLE + _encoded_meta(sop_class, summary["sop_instance_uid"], syntax) + body
    if redacted is not None:
        return PreparedFile(header=header, tail_offset=0, tail_length=0, fields=fields, tail_bytes=redacted.element)
    return PreparedFile(header=header, tail_offset=position, tail_length=tail_length, fields=fields)


_PREAMBLE = b"\x00" * 128 + b"DICM"


def _meta_element(element: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr == b"UI" else b" "
    if vr == b"OB":
        return struct.pack("<HH2sHL", 0x0002, element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def _encoded_meta(sop_class: str, sop_instance: str, syntax: str) -> bytes:
    """The file meta group (PS3.10 7.1), explicit VR little endian, written directly: it is the same shape for every file."""
    for value, what in ((sop_class, "SOP Class UID"), (sop_instance, "SOP Instance UID"), (syntax, "transfer syntax UID")):
        if not _looks_like_uid(value):
            # A damaged one (a retained instance UID, a class or syntax read as it is) cannot be written as a UID.
            raise UnsupportedError(f"the file's {what} is not a valid UID")
    body = b"".join((
        _meta_element(0x0001, b"OB", b"\x00\x01"),
        _meta_element(0x0002, b"UI", sop_class.encode("ascii")),
        _meta_element(0x0003, b"UI", sop_instance.encode("ascii")),
        _meta_element(0x0010, b"UI", syntax.encode("ascii")),
        _meta_element(0x0012, b"UI", IMPLEMENTATION_CLASS_UID.encode("ascii")),
        _meta_element(0x0013, b"SH", IMPLEMENTATION_VERSION_NAME.encode("ascii")),
    ))
    return struct.pack("<HH2sHL", 0x0002, 0x0000, b"UL", 4, len(body)) + body


def _rewrite(
    dataset: Dataset,
    context: DeidContext,
    key: str,
    sop_class: str,
    implicit: bool,
    little_endian: bool,
) -> tuple[list[tuple[int, bytes]], _RewriteSummary]:
    """Encode the de-identified data set (without pixel data); return its (tag, element) entries and the summary fields."""
    profile = resolve_profile(context.options)
    charset = dataset.original_character_set
    charset_key = tuple(charset) if isinstance(charset, (list, tuple, MultiValue)) else (str(charset),)
    rewriter = Rewriter(
        context,
        profile,
        Encoder(implicit, little_endian),
        list(charset_key),
        identity=lambda: _identity(dataset, rewriter.codec),
        scrubber_factory=scrubber_for,
        watch=_WATCHED_TAGS,
    )
    trial = encoded_trial_elements(context, implicit, little_endian, charset_key)
    written_by_us = {tag for tag, _ in trial}
    # What the engine writes itself replaces whatever the file had (a file
    # de-identified before carries group 0012 and (0028,0303) already).
    entries = [entry for entry in rewriter.dataset(dataset, top=True) if entry[0] not in written_by_us]
    present = {tag for tag, _ in entries}
    if _SOP_INSTANCE not in present:
        raise UnsupportedError("the file has no SOP Instance UID")
    entries.extend(trial)
    for tag, vr in ((_PATIENT_NAME, "PN"), (_PATIENT_ID, "LO")):
        if tag not in present:
            # Type 2 in the Patient module: the subject code, even if the file had none.
            entries.append((tag, rewriter._pydicom(DataElement(tag, vr, context.subject_code))))
    if _SOP_CLASS not in present:
        entries.append((_SOP_CLASS, rewriter._pydicom(DataElement(_SOP_CLASS, "UI", sop_class))))
        rewriter.final[_SOP_CLASS] = sop_class
    entries.sort(key=lambda entry: entry[0])
    fields: _RewriteSummary = {
        **_summary_fields(rewriter.final, dataset, context),
        "original_patient_key": key,
        "private_elements_removed": rewriter.private_removed,
        "qc_flags": _qc_flags(dataset, sop_class),
        "has_contrast": _has_contrast(dataset),
        "cleaned_descriptors": tuple(sorted(rewriter.cleaned_descriptors.items())),
    }
    return entries, fields


def _pixel_source(
    dataset: Dataset, sop_class: str, syntax: str, little_endian: bool, position: int, tail_length: int,
    value_length: int | None,
) -> PixelSource | None:
    """What Clean Pixel Data needs to know about the (7FE0,0010) element at `position`, or None if there is none."""
    if position < 0 or not tail_length:
        return None
    encapsulated = value_length is None
    if encapsulated:
        header_length = 12  # explicit VR OB with an undefined length (PS3.5 A.4)
        length = tail_length - header_length - 8  # without the Sequence Delimitation Item
    else:
        header_length = tail_length - int(value_length or 0)
        length = int(value_length or 0)
    return PixelSource(
        sop_class=sop_class,
        modality=_get_text(dataset, 0x00080060),
        manufacturer=_get_text(dataset, 0x00080070),
        model=_get_text(dataset, 0x00081090),
        burned_in_annotation=_get_text(dataset, 0x00280301),
        image_type=_get_text(dataset, 0x00080008),
        conversion_type=_get_text(dataset, 0x00080064),
        series_description=_get_text(dataset, 0x0008103E),
        rows=_int_value(dataset, 0x00280010) or 0,
        columns=_int_value(dataset, 0x00280011) or 0,
        samples=_int_value(dataset, 0x00280002) or 1,
        frames=max(_int_value(dataset, 0x00280008) or 1, 1),
        bits_allocated=_int_value(dataset, 0x00280100) or 0,
        bits_stored=_int_value(dataset, 0x00280101) or _int_value(dataset, 0x00280100) or 0,
        pixel_representation=_int_value(dataset, 0x00280103) or 0,
        planar_configuration=_int_value(dataset, 0x00280006) or 0,
        photometric=_get_text(dataset, 0x00280004).upper(),
        transfer_syntax=syntax,
        little_endian=little_endian,
        encapsulated=encapsulated,
        value_offset=position + header_length,
        value_length=length,
    )


def _deflated_reasons(dataset: Dataset, sop_class: str, context: DeidContext) -> tuple[str, ...]:
    if 0x7FE00010 not in dataset:
        return ()
    source = _pixel_source(dataset, sop_class, _DEFLATED, True, 0, 1, 0)
    return burned_in_reasons(source, context.options) if source is not None else ()


def _after_redaction(
    entries: list[tuple[int, bytes]],
    redacted: RedactedPixels,
    context: DeidContext,
    implicit: bool,
    little_endian: bool,
    dataset: Dataset,
) -> list[tuple[int, bytes]]:
    """The header entries once the pixels are clean: BurnedInAnnotation NO, the method names Clean Pixel Data."""
    charset = dataset.original_character_set
    charset_key = tuple(charset) if isinstance(charset, (list, tuple, MultiValue)) else (str(charset),)
    ordinary = dict(encoded_trial_elements(context, implicit, little_endian, charset_key))
    cleaned = dict(encoded_trial_elements(context, implicit, little_endian, charset_key, pixels_cleaned=True))
    encoder = Encoder(implicit, little_endian)

    def text(tag: int, vr: str, value: str) -> tuple[int, bytes]:
        data = value.encode("ascii")
        return tag, encoder.element(tag, vr, data + (b" " if len(data) % 2 else b""))

    changes = dict([text(0x00280301, "CS", "NO")])
    if redacted.photometric is not None:
        changes.update([text(0x00280004, "CS", redacted.photometric)])
    if redacted.planar_configuration is not None:
        changes[0x00280006] = encoder.element(0x00280006, "US", encoder.number("US", redacted.planar_configuration))
    present = {tag for tag, _ in entries}
    if redacted.lossy_method is not None:
        # The lossy history stays true of the pixels, whatever the new transfer syntax.
        if 0x00282110 not in present:
            changes.update([text(0x00282110, "CS", "01")])
        if 0x00282114 not in present:
            changes.update([text(0x00282114, "CS", redacted.lossy_method)])
    for tag, encoded in cleaned.items():
        if ordinary.get(tag) != encoded:
            changes[tag] = encoded
    result = [(tag, changes.pop(tag, encoded)) for tag, encoded in entries]
    result.extend(changes.items())
    result.sort(key=lambda entry: entry[0])
    return result


def _prepare_deflated(fp: BinaryIO, size: int, context: ContextLike, sop_class: str) -> PreparedFile:
    """Deflated files: the data set is one zlib stream, so it is read whole, rewritten and deflated again."""
    dataset, _ = _read_header(fp, size, whole=True)
    resolved, key = _resolve_context(dataset, context)
    entries, summary = _rewrite(dataset, resolved, key, sop_class, False, True)
    body = b"".join(encoded for _, encoded in entries)
    reasons = _deflated_reasons(dataset, sop_class, resolved)
    fields: PreparedFields = {**summary, "transfer_syntax_uid": _DEFLATED}
    if reasons:
        fields["burned_in"] = PixelReport(reasons, note="pixel data of a deflated file is not cleaned: review the image")
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(body) + compressor.flush()
    if len(deflated) % 2:
        deflated += b"\x00"  # PS3.5 A.5: padded to an even length
    header = _PREAMBLE + _encoded_meta(sop_class, summary["sop_instance_uid"], _DEFLATED) + deflated
    return PreparedFile(header=header, tail_offset=0, tail_length=0, fields=fields)


def deidentify_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str] | BinaryIO,
    context: ContextLike,
) -> DeidResult:
    """De-identify the DICOM file at `source` into `destination` (a path or a writable binary file).

    A destination path is written through a temporary file and renamed, so
    it either holds the whole output or does not exist. Raises DeidError
    subclasses for files that are refused and SkippedFile for a DICOMDIR.
    """
    with open(source, "rb") as fp:
        size = os.fstat(fp.fileno()).st_size
        prepared = prepare(fp, size, context)
        if not isinstance(destination, (str, os.PathLike)):
            return prepared.write(fp, destination)
        partial = f"{os.fspath(destination)}.part"
        try:
            with open(partial, "wb") as out:
                result = prepared.write(fp, out)
            os.replace(partial, destination)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return result


def deidentify_bytes(data: bytes, context: ContextLike) -> tuple[bytes, DeidResult]:
    """De-identify a DICOM file held in memory; return the output bytes and the result."""
    source = io.BytesIO(data)
    prepared = prepare(source, len(data), context)
    out = io.BytesIO()
    result = prepared.write(source, out)
    return out.getvalue(), result
