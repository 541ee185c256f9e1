"""Server-side rendering of DICOM frames: decode, modality/VOI transforms, PNG/JPEG, calipers, header.

Pure module (pydicom + NumPy + Pillow, no Django). The viewer endpoints, DICOMweb's rendered
resources and the thumbnail task are thin wrappers over `load_frame`, `render`/`render_frame`,
`thumbnail`, `pixel_spacing`, `measure_mm`/`bidirectional_mm` and `header_summary`.

Pipeline for a grayscale frame (PS3.3 C.11 and PS3.4 N.2):
stored value -> Modality LUT (rescale slope/intercept or Modality LUT Sequence) -> VOI (window
centre/width or VOI LUT Sequence) -> MONOCHROME1 inversion -> 8-bit. For integer data of up to
16 bits the whole chain is folded into one uint8 lookup table indexed by the stored value, so a
window change costs one `np.take` over the frame instead of float arithmetic on every pixel.
"""

from __future__ import annotations

import io
import math
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, BinaryIO, Literal, NamedTuple, TypeAlias, TypedDict

import numpy as np
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, pixel_array
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

__all__ = [
    "VOI_LUT_FUNCTIONS",
    "WINDOW_PRESETS",
    "Bidirectional",
    "FrameIndexError",
    "FramePixels",
    "HeaderRow",
    "LookupTable",
    "PixelSpacing",
    "RenderError",
    "RenderedImage",
    "Window",
    "WindowPreset",
    "apply_window",
    "bidirectional_mm",
    "clear_frame_cache",
    "configure_frame_cache",
    "default_window",
    "display_pixels",
    "header_summary",
    "load_frame",
    "measure_mm",
    "pixel_spacing",
    "render",
    "render_frame",
    "resolve_window",
    "thumbnail",
]

Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | Dataset"
Point: TypeAlias = "tuple[float, float]"
ImageFormat: TypeAlias = Literal["png", "jpeg"]

VOI_LUT_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


class RenderError(Exception):
    """The pixel data cannot be decoded or rendered (missing decoder, corrupt stream, bad header).

    The message is plain text meant for the user; the original exception is chained.
    """


class FrameIndexError(RenderError, IndexError):
    """The requested frame does not exist in the instance."""


# --- window presets -------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowPreset:
    """A named window in modality units (Hounsfield units for CT)."""

    key: str
    label: str
    center: float
    width: float


# Common radiology values (Radiopaedia "Windowing (CT)"); bone and liver vary most between sites,
# so the chosen values are written here rather than in the page's JavaScript.
WINDOW_PRESETS: dict[str, WindowPreset] = {
    p.key: p
    for p in (
        WindowPreset("soft-tissue", "CT soft tissue", 40.0, 400.0),
        WindowPreset("lung", "CT lung", -600.0, 1500.0),
        WindowPreset("bone", "CT bone", 400.0, 1800.0),
        WindowPreset("liver", "CT liver", 60.0, 160.0),
        WindowPreset("brain", "CT brain", 40.0, 80.0),
    )
}

# Preset name that asks for a window computed from the frame's own histogram (MR, PET).
AUTO_PRESET = "auto"
_AUTO_PERCENTILES = (0.005, 0.995)


class Window(NamedTuple):
    """A VOI window and where it came from.

    source is "request", "preset", "file", "modality-default" (CT soft tissue when the file has no
    window) or "auto" (0.5-99.5 percentile of the frame's modality values).
    """

    center: float
    width: float
    function: str
    source: str


# --- frame model ----------------------------------------------------------------------------


class LookupTable(NamedTuple):
    """A Modality or VOI LUT: stored/modality value `first_mapped` maps to data[0]."""

    data: np.ndarray
    first_mapped: int


class PixelSpacing(NamedTuple):
    """Physical pixel size in mm, and the element it came from.

    source is "PixelSpacing" (calibrated in the patient), "ImagerPixelSpacing" (at the detector;
    the viewer must show a warning), "SequenceOfUltrasoundRegions" (first region calibrated in cm)
    or None, in which case both sizes are None and no length in mm may be shown.
    """

    row_mm: float | None
    col_mm: float | None
    source: str | None


_NO_SPACING = PixelSpacing(None, None, None)


@dataclass(frozen=True, eq=False)
class FramePixels:
    """One decoded frame plus the header values needed to display and measure it.

    pixels holds, for grayscale data, the stored values exactly as decoded (unused high bits
    already cleared, sign applied) and, for colour data (RGB, YBR_* and PALETTE COLOR after their
    conversion), uint8 RGB of shape (rows, columns, 3). The array is read-only so that a cached
    frame can be shared between requests. `values` gives the Modality-LUT output (HU, SUV-ready
    activity, ...) and is computed on first use only.
    """

    pixels: np.ndarray
    frame_index: int
    number_of_frames: int
    photometric_interpretation: str
    modality: str
    transfer_syntax_uid: str
    rescale: tuple[float, float] | None  # (slope, intercept) when not the identity
    modality_lut: LookupTable | None
    window: tuple[float, float] | None  # the file's first window for this frame
    voi_lut_function: str
    voi_lut: LookupTable | None
    invert: bool  # MONOCHROME1 or Presentation LUT Shape INVERSE
    spacing: PixelSpacing

    @property
    def rows(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def columns(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def is_color(self) -> bool:
        return self.pixels.ndim == 3

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    @cached_property
    def values(self) -> np.ndarray:
        """Modality values of the frame (float32 when a rescale applies, e.g. CT HU or PET)."""
        if self.is_color:
            return self.pixels
        if self.modality_lut is not None:
            return _apply_lut(self.pixels, self.modality_lut)
        if self.rescale is not None:
            slope, intercept = self.rescale
            out = self.pixels.astype(np.float32)
            out *= np.float32(slope)
            out += np.float32(intercept)
            return out
        return self.pixels

    @cached_property
    def auto_window(self) -> Window:
        """Window spanning the 0.5-99.5 percentiles of the modality values (LINEAR_EXACT)."""
        lo, hi = _robust_range(self)
        width = hi - lo
        if not width > 0:  # flat image, or NaN-only float data
            width = 1.0
        return Window(float((lo + hi) / 2.0), float(width), "LINEAR_EXACT", "auto")


# --- decoding -------------------------------------------------------------------------------

# Tags read besides the group 0028 Image Pixel/Modality/VOI elements that pydicom always returns.
_METADATA_TAGS: list[int] = [
    Tag(keyword)
    for keyword in (
        "Modality",
        "ImagerPixelSpacing",
        "SequenceOfUltrasoundRegions",
        "PresentationLUTShape",
        "SharedFunctionalGroupsSequence",
        "PerFrameFunctionalGroupsSequence",
    )
]

# Exceptions pydicom and its plugins raise for data they cannot decode; anything else is a bug.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    InvalidDicomError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    TypeError,
    EOFError,
    struct.error,
)
# Reading a whole file can also fail in the file system.
_READ_ERRORS: tuple[type[BaseException], ...] = (*_DECODE_ERRORS, OSError)


def load_frame(src: Source, frame_index: int = 0, *, use_cache: bool = True) -> FramePixels:
    """Decode one frame of `src` and collect what is needed to display and measure it.

    src is a path, the file's bytes, an open binary file or a pydicom Dataset. Only the requested
    frame is decoded (pydicom's `pixel_array(..., index=)`), and for a path only that frame's bytes
    are read, so a frame of a large cine or enhanced multi-frame costs one frame. Frames loaded
    from a path are kept in a bounded in-process LRU cache keyed by (path, mtime, size, frame), so
    a window change on the same frame does not decode again (see `configure_frame_cache`).

    Raises FrameIndexError for a frame outside the instance, RenderError for undecodable data,
    FileNotFoundError for a missing path.
    """
    if frame_index < 0:
        raise FrameIndexError(f"Frame {frame_index} does not exist (frames count from 0).")
    key: tuple[Hashable, ...] | None = None
    if use_cache and isinstance(src, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(src))
        stat = os.stat(path)
        key = (path, stat.st_mtime_ns, stat.st_size, frame_index)
        cached = _FRAME_CACHE.get(key)
        if cached is not None:
            return cached
    arr, meta = _decode(src, frame_index)
    frame = _build_frame(arr, meta, frame_index)
    if key is not None:
        _FRAME_CACHE.put(key, frame)
    return frame


def _decode(src: Source, index: int) -> tuple[np.ndarray, Dataset]:
    if isinstance(src, Dataset):
        frames = _number_of_frames(src)
        if index >= frames:
            raise FrameIndexError(_frame_out_of_range(index, frames))
        try:
            return pixel_array(src, index=index), src
        except _DECODE_ERRORS as exc:
            raise RenderError(_decode_message(src, exc)) from exc

    if isinstance(src, (bytes, bytearray, memoryview)):
        src = io.BytesIO(src)
    meta = Dataset()
    try:
        # The fast path: reads the header up to the pixel data and then only this frame's bytes.
        arr = pixel_array(src, index=index, ds_out=meta, specific_tags=_METADATA_TAGS)
    except FileNotFoundError:
        raise
    except _DECODE_ERRORS as exc:
        # The streaming reader is stricter than dcmread: it needs file meta, cannot inflate the
        # Deflated syntax and rejects some trailing junk in encapsulated data. Those files still
        # decode from a fully read dataset, so retry that way (on this failure path only).
        ds = _read_whole(src)
        if ds is None:
            raise RenderError("The file is not a readable DICOM instance.") from exc
        if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
            raise RenderError("The instance has no pixel data.") from exc
        return _decode(ds, index)
    return arr, meta


_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _number_of_frames(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def _read_whole(src: str | os.PathLike[str] | BinaryIO) -> Dataset | None:
    """The whole data set with a transfer syntax, or None when `src` is not DICOM.

    A file without file meta (old exports) is read with force and gets the transfer syntax
    pydicom inferred while reading it.
    """
    stream = None if isinstance(src, (str, os.PathLike)) else src
    position = stream.tell() if stream is not None else 0
    try:
        for force in (False, True):
            if stream is not None:
                stream.seek(0)
            try:
                ds = dcmread(src, force=force)
                break
            except InvalidDicomError:
                continue
            except _READ_ERRORS:
                return None
        else:
            return None
    finally:
        if stream is not None:
            stream.seek(position)
    file_meta = getattr(ds, "file_meta", None)
    if not getattr(file_meta, "TransferSyntaxUID", None):
        if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
            return None  # with force, any bytes parse as "something": without pixels it is not DICOM
        implicit, little = ds.original_encoding
        if implicit is None or little is None:
            return None
        if file_meta is None:
            ds.file_meta = file_meta = FileMetaDataset()
        file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds


def _frame_out_of_range(index: int, frames: int) -> str:
    return f"Frame {index} does not exist: the instance has {frames} frame(s), counted from 0."


def _decode_message(ds: Dataset, exc: BaseException) -> str:
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    name = UID(tsyntax).name if tsyntax else "an unknown transfer syntax"
    if isinstance(exc, NotImplementedError):
        return f"No decoder is available for pixel data encoded as {name}."
    # Plugin failures span several lines ("... raised by all available plugins:\n  name: why").
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if len(detail) > 300:
        detail = detail[:299] + "\u2026"
    return f"The pixel data ({name}) cannot be decoded: {detail}"


class _FrameHeader(TypedDict):
    """The FramePixels fields every kind of frame takes from the header the same way."""

    frame_index: int
    number_of_frames: int
    modality: str
    transfer_syntax_uid: str
    spacing: PixelSpacing


def _build_frame(arr: np.ndarray, meta: Dataset, index: int) -> FramePixels:
    pi = str(meta.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").strip().upper()
    if arr.dtype.byteorder not in ("=", "|"):  # big endian transfer syntax
        arr = arr.astype(arr.dtype.newbyteorder("="))
    arr = np.ascontiguousarray(arr)
    common: _FrameHeader = {
        "frame_index": index,
        "number_of_frames": _number_of_frames(meta),
        "modality": str(meta.get("Modality", "") or ""),
        "transfer_syntax_uid": str(
            getattr(getattr(meta, "file_meta", None), "TransferSyntaxUID", "") or ""
        ),
        "spacing": pixel_spacing(meta, index),
    }
    if arr.ndim == 3 or pi == "PALETTE COLOR":
        rgb = _palette_to_rgb8(arr, meta) if pi == "PALETTE COLOR" else _color_to_rgb8(arr, meta)
        rgb.flags.writeable = False
        return FramePixels(
            pixels=rgb, photometric_interpretation=pi, rescale=None, modality_lut=None,
            window=None, voi_lut_function="LINEAR", voi_lut=None, invert=False, **common,
        )  # fmt: skip

    signed = int(meta.get("PixelRepresentation", 0) or 0) == 1
    modality_lut = _lut_from_sequence(meta.get("ModalityLUTSequence"), meta, signed)
    rescale = None if modality_lut is not None else _rescale(meta, index)
    window, function = _file_window(meta, index)
    voi_lut = _lut_from_sequence(meta.get("VOILUTSequence"), meta, signed)
    shape = str(meta.get("PresentationLUTShape", "") or "").strip().upper()
    arr.flags.writeable = False
    return FramePixels(
        pixels=arr,
        photometric_interpretation=pi,
        rescale=rescale,
        modality_lut=modality_lut,
        window=window,
        voi_lut_function=function,
        voi_lut=voi_lut,
        invert=pi == "MONOCHROME1" or shape == "INVERSE",
        **common,
    )


def _functional_group_item(ds: Dataset, index: int, sequence: str) -> Dataset | None:
    """Enhanced multi-frame: the frame's own functional group item, else the shared one."""
    for groups_keyword, position in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(groups_keyword)
        if groups and position < len(groups):
            items = groups[position].get(sequence)
            if items:
                return items[0]
    return None


def _first_number(value: Any) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rescale(ds: Dataset, index: int) -> tuple[float, float] | None:
    source: Dataset = _functional_group_item(ds, index, "PixelValueTransformationSequence") or ds
    slope = _first_number(source.get("RescaleSlope"))
    intercept = _first_number(source.get("RescaleIntercept"))
    # A zero slope is a writer's way of saying "absent"; applying it would blank the image.
    if not slope:
        slope = 1.0
    intercept = intercept or 0.0
    if slope == 1.0 and intercept == 0.0:
        return None
    return slope, intercept


def _file_window(ds: Dataset, index: int) -> tuple[tuple[float, float] | None, str]:
    source: Dataset = _functional_group_item(ds, index, "FrameVOILUTSequence") or ds
    function = str(source.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in VOI_LUT_FUNCTIONS:
        function = "LINEAR"
    center = _first_number(source.get("WindowCenter"))
    width = _first_number(source.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None, function
    return (center, width), function


def _lut_from_sequence(sequence: Any, ds: Dataset, signed: bool) -> LookupTable | None:
    if not sequence:
        return None
    item = sequence[0]
    descriptor = item.get("LUTDescriptor")
    data = item.get("LUTData")
    if not descriptor or data is None or len(descriptor) < 3:
        return None
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    # The first-mapped value is US or SS depending on Pixel Representation; pydicom may hand back
    # the unsigned reading.
    if signed and first >= 32768:
        first -= 65536
    if isinstance(data, bytes | bytearray):
        little = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        little_endian = True if little is None else UID(little).is_little_endian
        if len(data) == entries:  # 8-bit entries packed one per byte
            table = np.frombuffer(data, dtype=np.uint8)
        else:
            table = np.frombuffer(data, dtype="<u2" if little_endian else ">u2")[:entries]
    else:
        values = data if isinstance(data, MultiValue | list | tuple) else [data]
        table = np.asarray(values, dtype=np.int64)
    if table.size == 0:
        return None
    table = table.astype(np.float64)
    table.flags.writeable = False
    return LookupTable(table, first)


def _apply_lut(values: np.ndarray, lut: LookupTable) -> np.ndarray:
    index = np.rint(values).astype(np.int64) - lut.first_mapped
    np.clip(index, 0, lut.data.size - 1, out=index)
    return lut.data[index]


def _color_to_rgb8(arr: np.ndarray, meta: Dataset) -> np.ndarray:
    # pydicom has already converted YBR_FULL/YBR_FULL_422 (and JPEG 2000's YBR_ICT/RCT) to RGB
    # and undone the planar configuration, so only the bit depth is left.
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    bits = int(meta.get("BitsStored", 8 * arr.dtype.itemsize) or 8)
    shift = max(bits - 8, 0)
    return np.clip(arr.astype(np.int64) >> shift, 0, 255).astype(np.uint8)


def _palette_to_rgb8(arr: np.ndarray, meta: Dataset) -> np.ndarray:
    try:
        rgb = apply_color_lut(arr, meta)
    except _DECODE_ERRORS as exc:
        raise RenderError(f"The PALETTE COLOR lookup tables cannot be applied: {exc}") from exc
    rgb = rgb[..., :3]
    if rgb.dtype != np.uint8:
        # Some writers declare 16-bit palette entries but fill them with 8-bit values.
        rgb = rgb.astype(np.uint8) if int(rgb.max(initial=0)) <= 255 else (rgb >> 8).astype(np.uint8)
    return np.ascontiguousarray(rgb)


# --- window / level -------------------------------------------------------------------------


def apply_window(
    values: np.ndarray | float | list[float],
    center: float,
    width: float,
    *,
    function: str = "LINEAR",
) -> np.ndarray:
    """Map modality values to uint8 display values with a VOI window (PS3.3 C.11.2.1.2, C.11.2.1.3).

    LINEAR:       x <= c - 0.5 - (w-1)/2 -> 0;  x > c - 0.5 + (w-1)/2 -> 255;
                  else y = ((x - (c - 0.5)) / (w-1) + 0.5) * 255            (requires w >= 1)
    LINEAR_EXACT: x <= c - w/2 -> 0;  x > c + w/2 -> 255;  else y = ((x - c) / w + 0.5) * 255
    SIGMOID:      y = 255 / (1 + exp(-4 (x - c) / w))
    y is then rounded half up to an integer. The piecewise limits equal the clipped formula (it is
    continuous), so the formula is evaluated once in float64 and clipped to [0, 255]. Raises
    ValueError for an unknown function or a width outside the function's domain.
    """
    fn = function.strip().upper()
    c = float(center)
    w = float(width)
    # Evaluated in place in the formula's own operation order: this runs on every 64 Ki-entry
    # display table, and the order keeps ties at .5 exactly where the standard puts them.
    y = np.array(values, dtype=np.float64, copy=True, ndmin=0)
    with np.errstate(over="ignore", invalid="ignore"):
        if fn == "LINEAR":
            if not w >= 1.0:
                raise ValueError(f"LINEAR window width must be >= 1, got {width}.")
            if w == 1.0:
                y = np.where(y <= c - 0.5, 0.0, 255.0)
            else:
                y -= c - 0.5
                y /= w - 1.0
                y += 0.5
                y *= 255.0
        elif fn == "LINEAR_EXACT":
            if not w > 0.0:
                raise ValueError(f"LINEAR_EXACT window width must be > 0, got {width}.")
            y -= c
            y /= w
            y += 0.5
            y *= 255.0
        elif fn == "SIGMOID":
            if not w > 0.0:
                raise ValueError(f"SIGMOID window width must be > 0, got {width}.")
            y = 255.0 / (1.0 + np.exp(-4.0 * (y - c) / w))
        else:
            raise ValueError(f"Unknown VOI LUT function {function!r}; use one of {VOI_LUT_FUNCTIONS}.")
    np.nan_to_num(y, copy=False, nan=0.0)
    np.clip(y, 0.0, 255.0, out=y)
    y += 0.5
    np.floor(y, out=y)
    return y.astype(np.uint8)


def default_window(frame: FramePixels) -> Window | None:
    """The window shown before the user changes anything (None: colour, or the file's VOI LUT).

    Order: the file's first WindowCenter/Width (per frame for enhanced multi-frame), then the
    file's VOI LUT Sequence (None), then CT soft tissue for CT, then the auto window.
    """
    return resolve_window(frame)


def resolve_window(
    frame: FramePixels,
    *,
    center: float | None = None,
    width: float | None = None,
    preset: str | None = None,
    function: str | None = None,
) -> Window | None:
    """Decide the window for a request: explicit centre/width, then a preset, then the default.

    preset is a key of WINDOW_PRESETS or "auto". Returns None for colour frames and when the
    file's VOI LUT Sequence applies. Raises ValueError for half a window, a non-positive width
    or an unknown preset.
    """
    if frame.is_color:
        return None
    if center is not None or width is not None:
        if center is None or width is None:
            raise ValueError("A window needs both a center and a width.")
        if not (math.isfinite(center) and math.isfinite(width)) or width <= 0:
            raise ValueError("The window width must be a positive number.")
        fn = (function or frame.voi_lut_function).strip().upper()
        if fn not in VOI_LUT_FUNCTIONS:
            raise ValueError(f"Unknown VOI LUT function {function!r}.")
        return Window(float(center), float(width), fn, "request")
    if preset:
        if preset == AUTO_PRESET:
            return frame.auto_window
        try:
            chosen = WINDOW_PRESETS[preset]
        except KeyError:
            known = ", ".join([*WINDOW_PRESETS, AUTO_PRESET])
            raise ValueError(f"Unknown window preset {preset!r}; use one of {known}.") from None
        return Window(chosen.center, chosen.width, "LINEAR", "preset")
    if frame.window is not None:
        return Window(frame.window[0], frame.window[1], frame.voi_lut_function, "file")
    if frame.voi_lut is not None:
        return None
    if frame.modality == "CT":
        soft = WINDOW_PRESETS["soft-tissue"]
        return Window(soft.center, soft.width, "LINEAR", "modality-default")
    return frame.auto_window


def display_pixels(frame: FramePixels, window: Window | None) -> np.ndarray:
    """The frame as uint8 display values: (rows, columns) grayscale or (rows, columns, 3) RGB.

    window None on a grayscale frame applies the file's VOI LUT Sequence (or the auto window when
    there is none). MONOCHROME1 is inverted after the VOI transform.
    """
    if frame.is_color:
        return frame.pixels
    if window is None and frame.voi_lut is None:
        window = frame.auto_window
    pixels = frame.pixels
    index_dtype = _INDEX_DTYPES.get(pixels.dtype.str)
    if index_dtype is not None:
        lut = _display_lut(frame, window, pixels.dtype)
        return np.take(lut, pixels.view(index_dtype))
    # Float or 32-bit data: no table, evaluate per pixel.
    return _to_display(frame, frame.values, window)


_INDEX_DTYPES: dict[str, type[np.unsignedinteger[Any]]] = {
    np.dtype(np.uint8).str: np.uint8,
    np.dtype(np.int8).str: np.uint8,
    np.dtype(np.uint16).str: np.uint16,
    np.dtype(np.int16).str: np.uint16,
}


def _domain(dtype: np.dtype[Any]) -> np.ndarray:
    """Every stored value of an 8/16-bit dtype, ordered by its unsigned bit pattern."""
    return _DOMAINS[np.dtype(dtype).newbyteorder("=").str]


def _make_domain(dtype: np.dtype[Any]) -> np.ndarray:
    unsigned = np.uint8 if dtype.itemsize == 1 else np.uint16
    domain = np.arange(np.iinfo(unsigned).max + 1, dtype=unsigned).view(dtype)
    domain.flags.writeable = False
    return domain


_DOMAINS = {
    np.dtype(t).str: _make_domain(np.dtype(t)) for t in (np.uint8, np.int8, np.uint16, np.int16)
}


def _modality_of(frame: FramePixels, stored: np.ndarray) -> np.ndarray:
    if frame.modality_lut is not None:
        return _apply_lut(stored, frame.modality_lut)
    if frame.rescale is not None:
        slope, intercept = frame.rescale
        return stored.astype(np.float64) * slope + intercept
    return stored.astype(np.float64)


def _to_display(frame: FramePixels, values: np.ndarray, window: Window | None) -> np.ndarray:
    if window is None:
        assert frame.voi_lut is not None
        voi = _apply_lut(values, frame.voi_lut)
        lo, hi = float(frame.voi_lut.data.min()), float(frame.voi_lut.data.max())
        # Normalise by the table's own range: descriptors often state 16 bits for 12-bit data.
        scaled = (voi - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(voi)
        out = np.floor(np.clip(scaled, 0.0, 255.0) + 0.5).astype(np.uint8)
    else:
        function = window.function
        # LINEAR is undefined below width 1 (PET/SUV drags reach it); the exact form is not.
        if function == "LINEAR" and window.width < 1:
            function = "LINEAR_EXACT"
        out = apply_window(values, window.center, window.width, function=function)
    if frame.invert:
        np.subtract(255, out, out=out)
    return out


def _display_lut(frame: FramePixels, window: Window | None, dtype: np.dtype[Any]) -> np.ndarray:
    if frame.modality_lut is not None:
        modality_key: Hashable = ("lut", frame.modality_lut.first_mapped, _array_key(frame.modality_lut.data))
    else:
        modality_key = ("rescale", frame.rescale)
    if window is None:
        assert frame.voi_lut is not None
        voi_key: Hashable = ("voi", frame.voi_lut.first_mapped, _array_key(frame.voi_lut.data))
    else:
        voi_key = (window.center, window.width, window.function)
    key = (dtype.str, modality_key, voi_key, frame.invert)
    lut = _LUT_CACHE.get(key)
    if lut is None:
        lut = _to_display(frame, _modality_of(frame, _domain(dtype)), window)
        lut.flags.writeable = False
        _LUT_CACHE.put(key, lut)
    return lut


def _array_key(arr: np.ndarray) -> int:
    return hash(arr.tobytes())


def _robust_range(frame: FramePixels) -> tuple[float, float]:
    low_q, high_q = _AUTO_PERCENTILES
    pixels = frame.pixels
    index_dtype = _INDEX_DTYPES.get(pixels.dtype.str)
    if index_dtype is not None:
        # A histogram of stored values is cheaper than sorting the frame, and exact.
        domain = _domain(pixels.dtype)
        counts = np.bincount(pixels.view(index_dtype).ravel(), minlength=domain.size)
        present = np.flatnonzero(counts)
        values = _modality_of(frame, domain[present])
        order = np.argsort(values, kind="stable")
        values = values[order]
        cumulative = np.cumsum(counts[present][order])
        total = cumulative[-1]
        lo = values[min(int(np.searchsorted(cumulative, total * low_q)), values.size - 1)]
        hi = values[min(int(np.searchsorted(cumulative, total * high_q)), values.size - 1)]
        return float(lo), float(hi)
    finite = frame.values[np.isfinite(frame.values)]
    if finite.size == 0:
        return 0.0, 0.0
    lo, hi = np.quantile(finite, [low_q, high_q])
    return float(lo), float(hi)


# --- encoding -------------------------------------------------------------------------------


class RenderedImage(NamedTuple):
    """An encoded frame and the window it was rendered with (None: colour or file VOI LUT)."""

    data: bytes
    media_type: str
    window: Window | None
    width: int
    height: int


def render(
    frame: FramePixels,
    *,
    center: float | None = None,
    width: float | None = None,
    preset: str | None = None,
    function: str | None = None,
    size: int | None = None,
    fmt: ImageFormat = "png",
    quality: int = 85,
) -> RenderedImage:
    """Encode a loaded frame as PNG or JPEG at a window and a maximum edge length.

    size shrinks the image so that its longer edge is at most `size` pixels, keeping the aspect
    ratio (never enlarges: the browser zooms). The image stays on the pixel grid, so caliper
    coordinates in it are image pixels scaled by width/columns. PNG uses zlib level 1, and for
    grayscale the RLE strategy: on PNG-filtered CT/MR frames it is ~25% faster than level 1 and
    about as small as level 6, which costs 1.2-4x more time. Raises ValueError for bad arguments
    (the endpoint answers 400).
    """
    fmt_key = fmt.lower()
    if fmt_key == "jpg":
        fmt_key = "jpeg"
    if fmt_key not in ("png", "jpeg"):
        raise ValueError(f"Unknown image format {fmt!r}; use 'png' or 'jpeg'.")
    if size is not None and size < 1:
        raise ValueError("size must be a positive number of pixels.")
    if not 1 <= quality <= 100:
        raise ValueError("JPEG quality must be between 1 and 100.")
    window = resolve_window(frame, center=center, width=width, preset=preset, function=function)
    image = Image.fromarray(display_pixels(frame, window))
    if size is not None and max(image.size) > size:
        # reducing_gap lets Pillow shrink by an integer factor first, which is much cheaper.
        image.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    if fmt_key == "png":
        if image.mode == "L":
            image.save(buffer, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
        else:
            image.save(buffer, "PNG", compress_level=1)
        media_type = "image/png"
    else:
        image.save(buffer, "JPEG", quality=quality)
        media_type = "image/jpeg"
    return RenderedImage(buffer.getvalue(), media_type, window, image.width, image.height)


def render_frame(
    path_or_bytes: Source,
    frame: int = 0,
    *,
    center: float | None = None,
    width: float | None = None,
    preset: str | None = None,
    size: int | None = None,
    fmt: ImageFormat = "png",
    quality: int = 85,
) -> bytes:
    """Decode frame `frame` of a DICOM file and return it encoded (see `load_frame`, `render`)."""
    loaded = load_frame(path_or_bytes, frame)
    rendered = render(
        loaded, center=center, width=width, preset=preset, size=size, fmt=fmt, quality=quality
    )
    return rendered.data


def thumbnail(src: Source, size: int = 128, *, frame: int | None = None, quality: int = 80) -> bytes:
    """A JPEG of at most `size` pixels per edge of `frame`, by default the middle frame.

    Bypasses the frame cache: thumbnails are cached as files by the caller and would only evict
    frames the viewer is scrolling through.
    """
    loaded = load_frame(src, 0 if frame is None else frame, use_cache=False)
    if frame is None and loaded.number_of_frames > 1:
        loaded = load_frame(src, loaded.number_of_frames // 2, use_cache=False)
    return render(loaded, size=size, fmt="jpeg", quality=quality).data


# --- caches ---------------------------------------------------------------------------------


class _LruCache:
    """Thread-safe LRU bounded by a total cost (bytes for frames, entries for LUTs)."""

    def __init__(self, max_cost: int, cost: Any) -> None:
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._cost = cost
        self._total = 0
        self._lock = threading.Lock()
        self.max_cost = max_cost

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        cost = self._cost(value)
        if cost > self.max_cost:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._total -= self._cost(old)
            self._items[key] = value
            self._total += cost
            while self._total > self.max_cost:
                _, evicted = self._items.popitem(last=False)
                self._total -= self._cost(evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._total = 0


_FRAME_CACHE = _LruCache(64 * 1024 * 1024, lambda frame: frame.nbytes)
# 64 KiB per 16-bit table; 64 tables cover a drag session on a few series.
_LUT_CACHE = _LruCache(64, lambda lut: 1)


def configure_frame_cache(max_bytes: int) -> None:
    """Set the decoded-frame cache's budget in bytes (per process; 0 disables it)."""
    _FRAME_CACHE.max_cost = max(int(max_bytes), 0)
    _FRAME_CACHE.clear()


def clear_frame_cache() -> None:
    """Drop every cached frame and display table."""
    _FRAME_CACHE.clear()
    _LUT_CACHE.clear()


# --- measurement ----------------------------------------------------------------------------


def _positive_pair(value: Any) -> tuple[float, float] | None:
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        row, col = float(value[0]), float(value[1])
    except (TypeError, ValueError, IndexError):
        return None
    if row > 0 and col > 0 and math.isfinite(row) and math.isfinite(col):
        return row, col
    return None


def pixel_spacing(ds: Dataset, frame_index: int = 0) -> PixelSpacing:
    """Physical size of a pixel of frame `frame_index` (row spacing, column spacing) in mm.

    PixelSpacing (top level, else the frame's Pixel Measures functional group) is preferred;
    ImagerPixelSpacing is measured at the detector, so lengths from it are flagged for a warning;
    an ultrasound image uses its first region whose physical units are cm in both directions.
    With none of these the source is None and no length in mm may be shown.
    """
    pair = _positive_pair(ds.get("PixelSpacing"))
    if pair is None:
        measures = _functional_group_item(ds, frame_index, "PixelMeasuresSequence")
        if measures is not None:
            pair = _positive_pair(measures.get("PixelSpacing"))
    if pair is not None:
        return PixelSpacing(pair[0], pair[1], "PixelSpacing")
    pair = _positive_pair(ds.get("ImagerPixelSpacing"))
    if pair is not None:
        return PixelSpacing(pair[0], pair[1], "ImagerPixelSpacing")
    centimetres = 3  # PS3.3 C.8.5.5.1.15 Physical Units X/Y Direction
    for region in ds.get("SequenceOfUltrasoundRegions") or []:
        if (
            region.get("PhysicalUnitsXDirection") == centimetres
            and region.get("PhysicalUnitsYDirection") == centimetres
        ):
            dx = _first_number(region.get("PhysicalDeltaX"))
            dy = _first_number(region.get("PhysicalDeltaY"))
            if dx and dy:
                return PixelSpacing(abs(dy) * 10.0, abs(dx) * 10.0, "SequenceOfUltrasoundRegions")
    return _NO_SPACING


def measure_mm(p1: Point, p2: Point, spacing: PixelSpacing) -> float | None:
    """Length in mm of the line p1-p2 given in image pixels as (x=column, y=row).

    Returns None when the spacing is unknown (the caller then refuses to show mm).
    """
    if spacing.source is None or spacing.row_mm is None or spacing.col_mm is None:
        return None
    dx = (float(p2[0]) - float(p1[0])) * spacing.col_mm
    dy = (float(p2[1]) - float(p1[1])) * spacing.row_mm
    return math.hypot(dx, dy)


class Bidirectional(NamedTuple):
    """A bidirectional measurement: long axis, short axis (both mm) and their angle in degrees."""

    long_mm: float
    short_mm: float
    angle_deg: float


def bidirectional_mm(
    long_axis: tuple[Point, Point],
    short_axis: tuple[Point, Point],
    spacing: PixelSpacing,
) -> Bidirectional | None:
    """Lengths of a long axis and its perpendicular short axis, in mm (points as in measure_mm).

    The axes are swapped if the drawn "short" one is longer, so long_mm >= short_mm always.
    angle_deg is the angle between the axes in physical space (90 for a true perpendicular; with
    non-square pixels it differs from the on-screen angle), for the caller's tolerance check.
    Returns None when the spacing is unknown.
    """
    long_mm = measure_mm(*long_axis, spacing)
    short_mm = measure_mm(*short_axis, spacing)
    if long_mm is None or short_mm is None:
        return None
    assert spacing.row_mm is not None and spacing.col_mm is not None

    def vector(axis: tuple[Point, Point]) -> tuple[float, float]:
        (x1, y1), (x2, y2) = axis
        return (x2 - x1) * spacing.col_mm, (y2 - y1) * spacing.row_mm  # type: ignore[operator]

    (ax, ay), (bx, by) = vector(long_axis), vector(short_axis)
    if long_mm and short_mm:
        cosine = abs(ax * bx + ay * by) / (long_mm * short_mm)
        angle = math.degrees(math.acos(min(cosine, 1.0)))
    else:
        angle = 0.0
    if short_mm > long_mm:
        long_mm, short_mm = short_mm, long_mm
    return Bidirectional(long_mm, short_mm, angle)


# --- header panel ---------------------------------------------------------------------------


class HeaderRow(NamedTuple):
    """One line of the header panel. tag carries one leading ">" per sequence nesting level."""

    tag: str
    keyword: str
    vr: str
    value: str

    @property
    def depth(self) -> int:
        return len(self.tag) - len(self.tag.lstrip(">"))


_PIXEL_DATA_TAGS = {Tag(0x7FE00010), Tag(0x7FE00008), Tag(0x7FE00009)}
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}


def header_summary(
    ds: Dataset, *, max_value_chars: int = 96, max_binary_bytes: int = 64
) -> list[HeaderRow]:
    """The header as rows (tag, keyword, VR, value) for the viewer's side panel.

    File meta first, then the data set in tag order; sequences are flattened, each item opening
    with an "Item" row, nested rows marked by ">" in front of the tag. Pixel data and binary
    values longer than `max_binary_bytes` are left out; other values are cut at
    `max_value_chars` with an ellipsis. Pass the de-identified file (dcmread(...,
    stop_before_pixels=True) is enough).
    """
    rows: list[HeaderRow] = []

    def walk(dataset: Dataset, depth: int) -> None:
        prefix = ">" * depth
        for elem in dataset:
            if elem.tag in _PIXEL_DATA_TAGS:
                continue
            tag = f"{prefix}({elem.tag.group:04X},{elem.tag.element:04X})"
            keyword = elem.keyword or elem.name
            vr = str(elem.VR)
            if vr == "SQ":
                items = elem.value or []
                rows.append(HeaderRow(tag, keyword, vr, f"{len(items)} item(s)"))
                for number, item in enumerate(items, start=1):
                    rows.append(HeaderRow(f"{prefix}>(FFFE,E000)", "Item", "", f"#{number}"))
                    walk(item, depth + 1)
                continue
            value = elem.value
            if vr in _BINARY_VRS or isinstance(value, bytes | bytearray):
                raw = bytes(value or b"")
                if len(raw) > max_binary_bytes:
                    continue
                text = raw.hex(" ")
            elif isinstance(value, MultiValue | list | tuple):
                text = "\\".join(str(v) for v in value)
            else:
                text = "" if value is None else str(value)
            if len(text) > max_value_chars:
                text = text[: max_value_chars - 1] + "\u2026"
            rows.append(HeaderRow(tag, keyword, vr, text))

    file_meta = getattr(ds, "file_meta", None)
    if file_meta:
        walk(file_meta, 0)
    walk(ds, 0)
    return rows
