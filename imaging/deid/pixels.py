"""Clean Pixel Data: find burned-in text (region rules, QC's regions, OCR) and blank it in every frame.

Which images are searched (burned_in_reasons): BurnedInAnnotation YES,
modality US, SC or XA or one on the trial's list, secondary captures and
screen captures. Nothing else is decoded, so a CT series costs nothing here.

How an image is cleaned (clean_pixel_data):

1. The pixel data element is read from the source. Native data is viewed
   as an array in place (any endianness, planar or interleaved samples);
   encapsulated data is decoded with pydicom's decoders (unless its header
   declares far more pixels than its size can hold: MAX_DECODED_RATIO).
2. Regions come from the shipped and the trial's rules that match the
   device and size (regions.py), from QC for this series, and from OCR:
   tesseract reads `ocr_frames` frames sampled across the image, each word
   it is confident about becomes a region (padded by a few pixels).
3. Every region is blanked in every frame (the darkest value of the
   photometric interpretation). Native data keeps its transfer syntax and
   every byte outside the regions; decoded data is stored as Explicit VR
   Little Endian (lossless: nothing is compressed again), with the
   photometric interpretation of the decoded pixels, and a lossy source
   keeps (or gains) its LossyImageCompression history.

The report (PixelReport) says why the image was searched, which regions
were blanked (with their source) and, when nothing could be blanked, why:
such an image must be reviewed by a person before anyone reads it.
"""

from __future__ import annotations

import io
import math
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from .regions import RedactionRegion, rules_for

if TYPE_CHECKING:  # numpy is imported only when an image is cleaned
    import numpy as np

    from .context import DeidOptions

__all__ = [
    "PixelReport",
    "PixelSource",
    "RedactedPixels",
    "burned_in_reasons",
    "clean_pixel_data",
    "find_text_regions",
    "ocr_available",
    "png_thumbnail",
]

_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_ULTRASOUND_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.3.1",
                                     "1.2.840.10008.5.1.4.1.1.6.2"})
_SCREEN_WORDS = ("SCREEN", "CAPTURE", "DOSE_INFO", "DOSE INFO", "DOSE REPORT", "SCREENSHOT")
_SCREEN_CONVERSION_TYPES = frozenset({"WSD", "SD", "SI", "SYN", "DRW"})
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_LOSSLESS_SYNTAXES = frozenset({
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.8.1",
})
_LOSSY_METHOD = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1", "1.2.840.10008.1.2.4.51": "ISO_10918_1",
    "1.2.840.10008.1.2.4.81": "ISO_14495_1", "1.2.840.10008.1.2.4.91": "ISO_15444_1",
    "1.2.840.10008.1.2.4.202": "ISO_15444_15", "1.2.840.10008.1.2.4.100": "ISO_13818_2",
    "1.2.840.10008.1.2.4.101": "ISO_13818_2", "1.2.840.10008.1.2.4.102": "ISO_14496_10",
    "1.2.840.10008.1.2.4.103": "ISO_14496_10", "1.2.840.10008.1.2.4.104": "ISO_14496_10",
    "1.2.840.10008.1.2.4.105": "ISO_14496_10", "1.2.840.10008.1.2.4.106": "ISO_14496_10",
    "1.2.840.10008.1.2.4.107": "ISO_23008_2", "1.2.840.10008.1.2.4.108": "ISO_23008_2",
}
# The decoders allocate what the header declares (frames x rows x columns x samples), whatever the size of the
# compressed data: a damaged or crafted header of 65535 x 65535 over 4 KB of JPEG 2000 would allocate 12 GB.
# Real images that are cleaned compress far less than this (lossless 2-4:1, lossy ultrasound cines 10-50:1);
# blank ones compress more, and are decoded up to the floor whatever their ratio.
MAX_DECODED_RATIO = 200
MIN_DECODED_BOUND = 64 * 2**20
_OCR_MIN_CONFIDENCE = 45.0  # on the bright-pixels pass, where speckle is mostly gone
_OCR_PLAIN_CONFIDENCE = 70.0  # on the whole frame
_OCR_SHORT_WORD_CONFIDENCE = 80.0
_BRIGHT_TEXT_BAND = 38  # the top 15 % of the frame's range counts as text-bright
_BANNER_FRACTION = 0.12  # vendors' header and footer bars sit in the top and bottom eighth
_OCR_PADDING = 3
_OCR_TARGET_WIDTH = 1280  # small images are enlarged before OCR: tesseract reads 10 px fonts badly


@dataclass(frozen=True)
class PixelSource:
    """What the engine knows about an image's pixel data element before cleaning it."""

    sop_class: str
    modality: str
    manufacturer: str
    model: str
    burned_in_annotation: str
    image_type: str
    conversion_type: str
    series_description: str
    rows: int
    columns: int
    samples: int
    frames: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    planar_configuration: int
    photometric: str
    transfer_syntax: str
    little_endian: bool
    encapsulated: bool
    value_offset: int
    value_length: int


@dataclass(frozen=True)
class PixelReport:
    """Burned-in text on one image: why it was searched, what was blanked, whether a person must look.

    - `reasons`: why the image may carry burned-in text: "declared_burned_in"
      (BurnedInAnnotation YES), "modality:US" (or SC, XA, any listed one),
      "secondary_capture", "screen_capture", "ocr_text" (OCR read text).
      Empty: the image was not a candidate and was not decoded.
    - `searched`: rules and OCR ran on the decoded pixels.
    - `regions`: the regions blanked in every frame (frame = the 1-based
      frame OCR found it on, 0 = every frame; source "ocr", "rule" or "qc").
    - `redacted`: the output's pixels were rewritten with those regions blank
      and its BurnedInAnnotation set to NO.
    - `review_required`: flagged but not redacted (cleaning off, pixels that
      cannot be decoded, or a search that found nothing on an image that
      may carry text): a person must review it before release.
    - `note`: why it was not redacted, in plain words without PHI.
    """

    reasons: tuple[str, ...] = ()
    searched: bool = False
    regions: tuple[RedactionRegion, ...] = ()
    redacted: bool = False
    note: str = ""

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)

    @property
    def review_required(self) -> bool:
        return self.flagged and not self.redacted

    def as_dict(self) -> dict[str, object]:
        return {
            "reasons": list(self.reasons), "searched": self.searched, "redacted": self.redacted,
            "review_required": self.review_required, "note": self.note,
            "regions": [region.as_dict() for region in self.regions],
        }


@dataclass
class RedactedPixels:
    """The cleaned pixel data element and what the header must say about it."""

    element: bytes  # the whole encoded (7FE0,0010) element
    transfer_syntax: str
    photometric: str | None = None  # set when decoding changed it (YBR JPEG -> RGB)
    planar_configuration: int | None = None
    lossy_method: str | None = None  # the source was lossy: LossyImageCompression 01 and this method
    regions: tuple[RedactionRegion, ...] = field(default_factory=tuple)


def burned_in_reasons(source: PixelSource, options: DeidOptions) -> tuple[str, ...]:
    """Why an image may carry burned-in text (empty: it is not searched)."""
    reasons = []
    if source.burned_in_annotation.upper() == "YES":
        reasons.append("declared_burned_in")
    modality = source.modality.upper()
    if modality in options.searched_modalities():
        reasons.append(f"modality:{modality}")
    elif source.sop_class in _ULTRASOUND_SOP_CLASSES:
        reasons.append("modality:US")
    if source.sop_class.startswith(_SECONDARY_CAPTURE_PREFIX):
        reasons.append("secondary_capture")
    described = f"{source.image_type} {source.series_description}".upper()
    if source.conversion_type.upper() in _SCREEN_CONVERSION_TYPES or any(word in described for word in _SCREEN_WORDS):
        reasons.append("screen_capture")
    return tuple(reasons)


def ocr_available() -> bool:
    """Whether the tesseract program and pytesseract are installed."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- decoding


def _native_dtype(source: PixelSource) -> np.dtype:
    import numpy as np

    kind = "i" if source.pixel_representation else "u"
    return np.dtype(f"{'<' if source.little_endian else '>'}{kind}{source.bits_allocated // 8}")


def _native_view(source: PixelSource, value: bytearray) -> np.ndarray:
    """The native pixel bytes as a writable (frames, rows, columns, samples) array sharing `value`."""
    import numpy as np

    dtype = _native_dtype(source)
    count = source.frames * source.rows * source.columns * source.samples
    flat = np.frombuffer(memoryview(value)[: count * dtype.itemsize], dtype=dtype)
    if source.samples > 1 and source.planar_configuration == 1:
        planar = flat.reshape(source.frames, source.samples, source.rows, source.columns)
        return planar.transpose(0, 2, 3, 1)
    return flat.reshape(source.frames, source.rows, source.columns, source.samples)


def _decoded(source: PixelSource, value: bytes) -> tuple[np.ndarray, str]:
    """Decode encapsulated pixel data with pydicom: (frames, rows, columns, samples) and its photometric interpretation."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import pixel_array
    from pydicom.uid import UID

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(source.transfer_syntax)
    ds.Rows, ds.Columns, ds.SamplesPerPixel = source.rows, source.columns, source.samples
    ds.BitsAllocated, ds.BitsStored = source.bits_allocated, source.bits_stored
    ds.HighBit, ds.PixelRepresentation = source.bits_stored - 1, source.pixel_representation
    ds.PhotometricInterpretation = source.photometric
    if source.samples > 1:
        ds.PlanarConfiguration = source.planar_configuration
    ds.NumberOfFrames = source.frames
    ds.PixelData = value
    ds["PixelData"].VR = "OB"
    array = pixel_array(ds)
    # pydicom hands colour as RGB whatever the stream's colour space (YBR_FULL_422
    # JPEG, YBR_ICT / YBR_RCT JPEG 2000, YBR_FULL RLE).
    photometric = "RGB" if source.samples == 3 else source.photometric
    return array.reshape(source.frames, source.rows, source.columns, source.samples), photometric


# --------------------------------------------------------------------------- finding text


def _gray8(frame: np.ndarray, photometric: str) -> np.ndarray:
    """One frame as 8-bit gray, bright text made dark on light (what tesseract reads best)."""
    import numpy as np

    if frame.shape[2] >= 3 and photometric.startswith("YBR"):
        values = frame[:, :, 0].astype(np.float32)  # luma
    elif frame.shape[2] >= 3:
        values = frame.max(axis=2).astype(np.float32)  # coloured text is bright in one channel
    else:
        values = frame[:, :, 0].astype(np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    if photometric != "MONOCHROME1":
        scaled = 255.0 - scaled  # burned-in text is bright on a dark image
    return scaled.astype(np.uint8)


def _read_words(
    image: object, scale: float, rows: int, columns: int, frame_number: int, *, min_confidence: float,
    short_confidence: float, y_offset: int = 0,
) -> list[RedactionRegion]:
    import pytesseract

    # tesseract's OpenMP threads fight the worker processes for the cores: one thread each.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    data = pytesseract.image_to_data(image, config="--psm 11 --oem 1", output_type=pytesseract.Output.DICT)
    regions = []
    for index, text in enumerate(data["text"]):
        word = str(text).strip()
        confidence = float(data["conf"][index])
        characters = sum(char.isalnum() for char in word)
        if confidence < min_confidence or characters < 1:
            continue
        if characters <= 2 and confidence < short_confidence:
            continue  # a glyph or two in speckle is usually noise
        left = max(0, math.floor(data["left"][index] / scale) - _OCR_PADDING)
        top = max(0, y_offset + math.floor(data["top"][index] / scale) - _OCR_PADDING)
        right = min(columns, math.ceil((data["left"][index] + data["width"][index]) / scale) + _OCR_PADDING)
        bottom = min(rows, y_offset + math.ceil((data["top"][index] + data["height"][index]) / scale) + _OCR_PADDING)
        if right - left <= 0 or bottom - top <= 0 or (bottom - top) > rows // 4:
            continue  # nothing, or taller than a quarter of the image: not a line of text
        regions.append(RedactionRegion(left, top, right - left, bottom - top, frame_number, "ocr",
                                       f"{characters} characters, confidence {confidence:.0f}"))
    return regions


def find_text_regions(frame: np.ndarray, photometric: str, *, frame_number: int = 1) -> list[RedactionRegion]:
    """Regions of one frame (rows, columns, samples) where tesseract reads text with confidence.

    Two passes: the brightest pixels alone, over the whole frame (burned-in
    text is drawn at or near full intensity, speckle rarely is: tesseract
    reads it cleanly and with high confidence), then the top and bottom
    bands of the frame as they are (grey text on a vendor's banner), where
    only confident words count. Tesseract on a whole frame of speckle is
    slow (seconds) and finds noise, so the second pass reads the bands only.
    """
    import numpy as np
    from PIL import Image

    gray = _gray8(frame, photometric)  # text dark on light
    rows, columns = gray.shape
    scale = max(1.0, min(4.0, _OCR_TARGET_WIDTH / max(columns, 1)))

    def prepared(pixels: np.ndarray) -> Image.Image:
        image = Image.fromarray(pixels)
        if scale > 1.0:
            height, width = pixels.shape
            image = image.resize((round(width * scale), round(height * scale)), Image.Resampling.BICUBIC)
        return image

    darkest = int(gray.min())
    bright_only = np.where(gray <= darkest + _BRIGHT_TEXT_BAND, 0, 255).astype(np.uint8)
    regions = _read_words(prepared(bright_only), scale, rows, columns, frame_number,
                          min_confidence=_OCR_MIN_CONFIDENCE, short_confidence=60.0)
    band = max(1, math.ceil(rows * _BANNER_FRACTION))
    for top in sorted({0, max(0, rows - band)}):
        regions += _read_words(prepared(gray[top:top + band]), scale, rows, columns, frame_number, y_offset=top,
                               min_confidence=_OCR_PLAIN_CONFIDENCE, short_confidence=_OCR_SHORT_WORD_CONFIDENCE)
    return regions


def _sampled_frames(frames: int, count: int) -> list[int]:
    if frames <= count:
        return list(range(frames))
    return sorted({round(index * (frames - 1) / (count - 1)) for index in range(count)}) if count > 1 else [0]


# --------------------------------------------------------------------------- blanking


def _blank_values(photometric: str, array: np.ndarray) -> list[int | float]:
    samples = array.shape[3]
    if photometric == "MONOCHROME1":
        return [array.max()]
    if photometric.startswith("YBR") and samples == 3:
        middle = 1 << (array.dtype.itemsize * 8 - 1) if array.dtype.kind == "u" else 0
        return [0, middle, middle]
    if photometric in ("MONOCHROME2", "PALETTE COLOR") and samples == 1:
        return [array.min()]
    return [0] * samples


def _blank(array: np.ndarray, regions: list[RedactionRegion], photometric: str) -> None:
    values = _blank_values(photometric, array)
    for region in regions:
        window = array[:, region.y:region.y + region.height, region.x:region.x + region.width, :]
        for sample, value in enumerate(values):
            window[..., sample] = value


def _native_element(value: bytes, little_endian: bool, implicit: bool, bits_allocated: int) -> bytes:
    import struct

    endian = "<" if little_endian else ">"
    if len(value) % 2:
        value += b"\x00"
    if implicit:
        return struct.pack(endian + "HHL", 0x7FE0, 0x0010, len(value)) + value
    vr = b"OW" if bits_allocated > 8 else b"OB"
    return struct.pack(endian + "HH2sHL", 0x7FE0, 0x0010, vr, 0, len(value)) + value


def clean_pixel_data(
    fp: BinaryIO,
    source: PixelSource,
    reasons: tuple[str, ...],
    options: DeidOptions,
    extra_regions: tuple[RedactionRegion, ...],
    *,
    implicit: bool,
) -> tuple[PixelReport, RedactedPixels | None]:
    """Search an image for burned-in text and blank what is found; returns the report and the new pixel element."""
    if source.bits_allocated not in (8, 16, 32) or source.rows <= 0 or source.columns <= 0:
        return PixelReport(reasons, note="pixel data of this layout cannot be cleaned"), None
    if not source.encapsulated and source.photometric == "YBR_FULL_422":
        return PixelReport(reasons, note="pixel data of this layout cannot be cleaned"), None
    regions: list[RedactionRegion] = []
    for rule in rules_for(options.pixel_rules, manufacturer=source.manufacturer, model=source.model,
                          modality=source.modality, rows=source.rows, columns=source.columns):
        regions.extend(rule.regions)
    regions.extend(extra_regions)
    searching = options.ocr and ocr_available()
    if not regions and not searching:
        # Nothing to blank and nothing to search with: the pixels are not even decoded.
        why = "OCR is off" if not options.ocr else "OCR is not installed (tesseract)"
        return PixelReport(reasons, note=f"{why} and no region rule matched: review the image"), None
    declared = source.frames * source.rows * source.columns * source.samples * (source.bits_allocated // 8)
    if source.encapsulated and declared > max(MIN_DECODED_BOUND, MAX_DECODED_RATIO * source.value_length):
        return PixelReport(reasons, note="the image header declares far more pixels than its pixel data can hold: "
                                         "review the image"), None
    fp.seek(source.value_offset)
    raw = fp.read(source.value_length)
    try:
        if source.encapsulated:
            array, photometric = _decoded(source, raw)
            array = array.copy()
            buffer = None
        else:
            buffer = bytearray(raw)
            array = _native_view(source, buffer)
            photometric = source.photometric
    except Exception:  # noqa: BLE001 - untrusted bytes: any decoder failure means "cannot clean", never a crash
        return PixelReport(reasons, note="the pixel data could not be decoded"), None

    found_text = False
    note = ""
    if searching:
        for index in _sampled_frames(source.frames, options.ocr_frames):
            found = find_text_regions(array[index], photometric, frame_number=index + 1)
            found_text = found_text or bool(found)
            regions.extend(found)
    elif options.ocr:
        note = "OCR is not installed (tesseract): only rule and QC regions were blanked"
    clipped = [region for region in (r.clipped(source.rows, source.columns) for r in regions) if region is not None]
    if found_text and "ocr_text" not in reasons:
        reasons = (*reasons, "ocr_text")
    if not clipped:
        return PixelReport(reasons, searched=True, note="no burned-in text was found: review the image"), None
    _blank(array, clipped, photometric)
    if buffer is not None:
        element = _native_element(bytes(buffer), source.little_endian, implicit, source.bits_allocated)
        redacted = RedactedPixels(element, source.transfer_syntax, regions=tuple(clipped))
    else:
        import numpy as np

        native = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
        element = _native_element(native.tobytes(), True, False, native.dtype.itemsize * 8)
        samples = source.samples
        redacted = RedactedPixels(
            element, _EXPLICIT_LE, photometric=photometric if photometric != source.photometric else None,
            planar_configuration=0 if samples > 1 else None,
            lossy_method=None if source.transfer_syntax in _LOSSLESS_SYNTAXES
            else _LOSSY_METHOD.get(source.transfer_syntax, "ISO_10918_1"),
            regions=tuple(clipped),
        )
    return PixelReport(reasons, searched=True, regions=tuple(clipped), redacted=True, note=note), redacted


def png_thumbnail(array: np.ndarray, photometric: str, size: int = 256) -> bytes:
    """A small PNG of one frame (rows, columns, samples), for QC's before/after views."""
    from PIL import Image

    gray = 255 - _gray8(array, photometric) if photometric != "MONOCHROME1" else _gray8(array, photometric)
    image = Image.fromarray(gray)
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
