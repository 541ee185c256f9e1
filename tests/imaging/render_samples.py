"""Synthetic DICOM instances for the rendering tests, one per photometric interpretation and syntax.

Everything is generated in memory with pydicom's encoders (RLE, JPEG 2000 via openjpeg), Pillow
(JPEG baseline) or the small lossless JPEG encoder below (pydicom has none), so no test file is
checked in and every expected pixel is known.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import convert_color_space
from pydicom.sequence import Sequence
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

ROWS, COLUMNS = 40, 64


def base_dataset(sop_class: str, modality: str) -> Dataset:
    """A minimal instance (patient/study/series/SOP identity) without pixel data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = "Render^Test"
    ds.PatientID = "RENDER-1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    return ds


def write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def ramp(rows: int = ROWS, columns: int = COLUMNS, low: int = 0, high: int = 4095) -> np.ndarray:
    """A horizontal ramp from low to high, identical on every row."""
    line = np.linspace(low, high, columns).round().astype(np.int64)
    return np.tile(line, (rows, 1))


def ct_signed(*, slope: float = 2.0, intercept: float = -1000.0, window: bool = True) -> Dataset:
    """CT, signed 16-bit stored values -600..600, rescaled to -2200..200 HU (slope 2)."""
    ds = base_dataset(CTImageStorage, "CT")
    stored = ramp(low=-600, high=600).astype(np.int16)
    ds.set_pixel_data(stored, "MONOCHROME2", 16)
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.RescaleType = "HU"
    if window:
        ds.WindowCenter = [40, -600]
        ds.WindowWidth = [400, 1500]
    ds.PixelSpacing = [0.5, 0.5]
    return ds


def mr_unsigned() -> Dataset:
    """MR, unsigned 16-bit, no window in the file (auto window expected)."""
    ds = base_dataset(MRImageStorage, "MR")
    ds.set_pixel_data(ramp(low=100, high=3100).astype(np.uint16), "MONOCHROME2", 16)
    ds.PixelSpacing = [1.0, 1.0]
    return ds


def cr(photometric: str) -> Dataset:
    """CR, unsigned 12-bit in 16, with a window; MONOCHROME1 or MONOCHROME2."""
    ds = base_dataset(ComputedRadiographyImageStorage, "CR")
    ds.set_pixel_data(ramp().astype(np.uint16), photometric, 12)
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    return ds


def garbage_high_bits() -> tuple[Dataset, Dataset]:
    """The same 12-bit image twice: clean, and with random bits set above Bits Stored."""
    clean = cr("MONOCHROME2")
    dirty = cr("MONOCHROME2")
    values = ramp().astype(np.uint16)
    noise = np.random.default_rng(5).integers(0, 16, values.shape, dtype=np.uint16) << 12
    dirty.PixelData = (values | noise).astype("<u2").tobytes()
    return clean, dirty


def pet_float_rescale() -> Dataset:
    """PET, unsigned stored values with a fractional slope (activity in Bq/ml), no window."""
    ds = base_dataset(PositronEmissionTomographyImageStorage, "PT")
    ds.set_pixel_data(ramp(low=0, high=30000).astype(np.uint16), "MONOCHROME2", 16)
    ds.RescaleSlope = 0.37
    ds.RescaleIntercept = 0
    ds.Units = "BQML"
    return ds


def us_rgb_cine(frames: int = 3, planar: int = 0) -> tuple[Dataset, list[tuple[int, int, int]]]:
    """US multi-frame RGB; frame k is filled with colours[k]. Planar configuration 0 or 1."""
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)][:frames]
    arr = np.empty((frames, ROWS, COLUMNS, 3), dtype=np.uint8)
    for k, colour in enumerate(colours):
        arr[k] = colour
    ds = base_dataset(UltrasoundMultiFrameImageStorage, "US")
    ds.set_pixel_data(arr, "RGB", 8)
    if planar:
        ds.PlanarConfiguration = 1
        ds.PixelData = arr.transpose(0, 3, 1, 2).tobytes()
    return ds, colours


def ybr_full_native() -> tuple[Dataset, np.ndarray]:
    """Uncompressed YBR_FULL (converted from a known RGB gradient), and that RGB."""
    rgb = np.zeros((ROWS, COLUMNS, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, COLUMNS).astype(np.uint8)
    rgb[..., 1] = 128
    rgb[..., 2] = np.linspace(0, 255, ROWS).astype(np.uint8)[:, None]
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    ds = base_dataset(SecondaryCaptureImageStorage, "OT")
    ds.set_pixel_data(ybr, "YBR_FULL", 8)
    return ds, rgb


def _encapsulated(ds: Dataset, frames: list[bytes], syntax: str) -> Dataset:
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return ds


def jpeg_baseline_ybr422() -> tuple[Dataset, np.ndarray]:
    """US, JPEG baseline with 4:2:2 chroma subsampling (YBR_FULL_422), and its source RGB."""
    rgb = np.zeros((ROWS * 2, COLUMNS * 2, 3), dtype=np.uint8)
    rgb[:, : COLUMNS, 0] = 220  # left half red
    rgb[:, COLUMNS:, 2] = 220  # right half blue
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95, subsampling=1)
    ds = base_dataset(UltrasoundImageStorage, "US")
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    return _encapsulated(ds, [buffer.getvalue()], JPEGBaseline8Bit), rgb


def jpeg_baseline_gray() -> tuple[Dataset, np.ndarray]:
    """DX, 8-bit grayscale JPEG baseline, and its source pixels."""
    gray = ramp(ROWS * 2, COLUMNS * 2, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "JPEG", quality=95)
    ds = base_dataset(DigitalXRayImageStorageForPresentation, "DX")
    ds.Rows, ds.Columns = gray.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return _encapsulated(ds, [buffer.getvalue()], JPEGBaseline8Bit), gray


def palette_color() -> tuple[Dataset, np.ndarray]:
    """PALETTE COLOR with 16-bit LUT entries: index i -> (i, 255 - i, 0) in 8-bit terms."""
    indices = ramp(low=0, high=255).astype(np.uint8)
    ds = base_dataset(UltrasoundImageStorage, "US")
    ds.set_pixel_data(indices, "PALETTE COLOR", 8)
    entries = np.arange(256, dtype=np.uint16)
    for colour, table in (
        ("Red", entries * 257),
        ("Green", (255 - entries) * 257),
        ("Blue", np.zeros(256, dtype=np.uint16)),
    ):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", table.astype("<u2").tobytes())
    expected = np.stack([indices, 255 - indices, np.zeros_like(indices)], axis=-1)
    return ds, expected


def enhanced_mr(frames: int = 3) -> Dataset:
    """Enhanced MR multi-frame: per-frame window and rescale in functional groups."""
    ds = base_dataset(EnhancedMRImageStorage, "MR")
    stack = np.stack([ramp(low=0, high=1000 * (k + 1)) for k in range(frames)]).astype(np.uint16)
    ds.set_pixel_data(stack, "MONOCHROME2", 16)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [0.8, 0.9]
    measures.SliceThickness = 3
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for k in range(frames):
        item = Dataset()
        voi = Dataset()
        voi.WindowCenter = 500 * (k + 1)
        voi.WindowWidth = 1000 * (k + 1)
        item.FrameVOILUTSequence = Sequence([voi])
        transform = Dataset()
        transform.RescaleSlope = 1
        transform.RescaleIntercept = 0
        transform.RescaleType = "US"
        item.PixelValueTransformationSequence = Sequence([transform])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    return ds


def jpeg_lossless_sv1(ds: Dataset) -> Dataset:
    """Re-encode a native single-frame, single-sample instance as JPEG Lossless SV1 (process 14)."""
    arr = ds.pixel_array
    codestream = encode_jpeg_lossless(arr.view(np.uint16 if arr.itemsize == 2 else np.uint8),
                                      int(ds.BitsStored))
    return _encapsulated(ds, [codestream], JPEGLosslessSV1)


def encode_jpeg_lossless(arr: np.ndarray, precision: int) -> bytes:
    """Encode a 2-D unsigned array as a lossless JPEG (ITU T.81 Annex H), predictor 1.

    One Huffman table codes the 17 difference categories with fixed 5-bit codes: compression is
    not the point, producing a standard stream the libjpeg decoder must read is.
    """
    rows, columns = arr.shape
    values = arr.astype(np.int64)
    predicted = np.empty_like(values)
    predicted[0, 0] = 1 << (precision - 1)
    predicted[0, 1:] = values[0, :-1]  # first line: left neighbour
    predicted[1:, 0] = values[:-1, 0]  # first column: the sample above
    predicted[1:, 1:] = values[1:, :-1]  # predictor 1 (Ra)
    differences = ((values - predicted + 32768) % 65536) - 32768

    bits: list[str] = []
    for difference in differences.ravel().tolist():
        if difference == -32768:  # category 16 codes +32768 and carries no extra bits
            bits.append(format(16, "05b"))
            continue
        category = abs(difference).bit_length()
        bits.append(format(category, "05b"))
        if category:
            extra = difference if difference > 0 else difference + (1 << category) - 1
            bits.append(format(extra, f"0{category}b"))
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)  # pad with 1-bits (T.81 F.1.2.3)
    entropy = bytearray()
    for start in range(0, len(stream), 8):
        byte = int(stream[start : start + 8], 2)
        entropy.append(byte)
        if byte == 0xFF:
            entropy.append(0x00)

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    counts = [0] * 16
    counts[4] = 17  # seventeen codes of length 5
    huffman = bytes([0x00]) + bytes(counts) + bytes(range(17))
    frame_header = bytes([precision]) + rows.to_bytes(2, "big") + columns.to_bytes(2, "big")
    frame_header += bytes([1, 1, 0x11, 0])
    scan_header = bytes([1, 1, 0x00, 1, 0, 0])  # Ss = predictor 1, Se = 0, Ah/Al = 0
    return (
        b"\xff\xd8"
        + segment(0xC3, frame_header)
        + segment(0xC4, huffman)
        + segment(0xDA, scan_header)
        + bytes(entropy)
        + b"\xff\xd9"
    )


def disk_phantom(spacing_mm: float, diameter_mm: float, size: int = 128) -> Dataset:
    """CT with a centred bright disk of known diameter on a dark background."""
    ds = base_dataset(CTImageStorage, "CT")
    y, x = np.mgrid[:size, :size]
    radius_px = diameter_mm / spacing_mm / 2.0
    centre = (size - 1) / 2.0
    inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius_px**2
    stored = np.where(inside, 1024 + 300, 1024 - 1000).astype(np.uint16)
    ds.set_pixel_data(stored, "MONOCHROME2", 12)
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    return ds


def _lut_item(first_mapped: int, bits: int, table: np.ndarray) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [int(table.size), first_mapped, bits]
    item.add_new(0x00283006, "OW", table.astype("<u2").tobytes())  # LUTData
    return item


def cr_with_voi_lut_sequence() -> tuple[Dataset, np.ndarray]:
    """CR whose only VOI is a VOI LUT Sequence (a square-root curve in 12 bits), and that table."""
    ds = cr("MONOCHROME2")
    del ds.WindowCenter, ds.WindowWidth
    table = np.round(np.sqrt(np.arange(4096) / 4095.0) * 4095).astype(np.uint16)
    ds.VOILUTSequence = Sequence([_lut_item(0, 12, table)])
    return ds, table


def xa_with_modality_lut_sequence() -> tuple[Dataset, np.ndarray]:
    """An image whose Modality LUT Sequence doubles stored values 100.. (first mapped 100)."""
    ds = cr("MONOCHROME2")
    table = (np.arange(4096) * 2).clip(0, 65535).astype(np.uint16)
    ds.ModalityLUTSequence = Sequence([_lut_item(100, 16, table)])
    ds.WindowCenter = 4096
    ds.WindowWidth = 8192
    return ds, table


def jpeg_baseline_cine(colours: list[tuple[int, int, int]]) -> Dataset:
    """US multi-frame, one JPEG baseline (YBR_FULL_422) fragment per frame, frame k = colours[k]."""
    fragments = []
    for colour in colours:
        buffer = io.BytesIO()
        frame = np.empty((ROWS, COLUMNS, 3), dtype=np.uint8)
        frame[:] = colour
        Image.fromarray(frame).save(buffer, "JPEG", quality=95, subsampling=1)
        fragments.append(buffer.getvalue())
    return jpeg_cine_of(fragments)


def jpeg_cine_of(fragments: list[bytes]) -> Dataset:
    ds = base_dataset(UltrasoundMultiFrameImageStorage, "US")
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.NumberOfFrames = len(fragments)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return _encapsulated(ds, fragments, JPEGBaseline8Bit)


def jpeg_fragments(ds: Dataset) -> list[bytes]:
    """The per-frame codestreams of an encapsulated instance with one fragment per frame."""
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
