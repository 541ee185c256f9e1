"""Clean Pixel Data: burned-in text found by OCR and rules is blanked in every frame, nothing else changes."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from imaging.deid import DeidContext, DeidOptions, PixelRule, RedactionRegion, deidentify_bytes
from imaging.deid.pixels import ocr_available
from tests.imaging import synthetic
from tests.imaging.deid_corpus import corpus

pytestmark = pytest.mark.skipif(not ocr_available(), reason="tesseract (Debian tesseract-ocr) is not installed")

SECRET = b"0123456789abcdef0123456789abcdef"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
TEXTS = (((12, 8), "DOE JANE 1960-01-01"), ((400, 8), "MRN000001"), ((12, 440), "SYNTHETIC HOSPITAL"))


def context(**options: object) -> DeidContext:
    return DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                       protocol_id="P1", options=DeidOptions(**options))


def ultrasound_with_text(*, frames: int = 1, rgb: bool = False, syntax: str = ExplicitVRLittleEndian
                         ) -> tuple[pydicom.Dataset, np.ndarray, np.ndarray]:
    """A 480x640 ultrasound with speckle in a sector and white text at known places; its pixels and text mask."""
    rng = np.random.default_rng(7)
    rows, columns = 480, 640
    yy, xx = np.mgrid[0:rows, 0:columns]
    sector = ((xx - 320) ** 2 + (yy + 40) ** 2 < 420 ** 2) & (yy > 60) & (yy < 420) & (abs(xx - 320) < (yy + 40) * 0.8)
    mask_image = Image.new("L", (columns, rows), 0)
    draw = ImageDraw.Draw(mask_image)
    font = ImageFont.truetype(str(FONT), 22) if FONT.exists() else ImageFont.load_default(size=22)
    for position, text in TEXTS:
        draw.text(position, text, fill=255, font=font)
    text_mask = np.asarray(mask_image) > 0
    stack = []
    for _ in range(frames):
        frame = np.where(sector, rng.integers(20, 140, size=(rows, columns)), 0).astype(np.uint8)
        frame[text_mask] = 255
        stack.append(np.stack([frame] * 3, axis=-1) if rgb else frame)
    pixels = np.stack(stack)
    ds = synthetic.make_ultrasound(burned_in=False)
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = 33.3
    ds.PixelData = (pixels if frames > 1 else pixels[0]).tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if syntax == RLELossless:
        ds.compress(RLELossless, encoding_plugin="pydicom")
    elif syntax != ExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
    return ds, pixels.reshape(frames, rows, columns, -1), text_mask


def outside(array: np.ndarray, regions) -> np.ndarray:
    keep = np.ones(array.shape[1:3], dtype=bool)
    for region in regions:
        keep[region.y:region.y + region.height, region.x:region.x + region.width] = False
    return array[:, keep]


def redacted_pixels(output: bytes) -> tuple[pydicom.Dataset, np.ndarray]:
    back = pydicom.dcmread(io.BytesIO(output))
    frames = int(back.get("NumberOfFrames", 1) or 1)
    return back, back.pixel_array.reshape(frames, back.Rows, back.Columns, -1)


@pytest.mark.parametrize(("rgb", "frames", "syntax"), [
    (False, 1, ExplicitVRLittleEndian), (True, 1, ImplicitVRLittleEndian), (False, 4, RLELossless),
])
def test_ocr_blanks_every_text_pixel_in_every_frame_and_changes_nothing_else(rgb, frames, syntax):
    ds, pixels, text_mask = ultrasound_with_text(frames=frames, rgb=rgb, syntax=syntax)
    output, result = deidentify_bytes(synthetic.to_bytes(ds), context())
    report = result.burned_in
    assert report.redacted and not report.review_required
    assert "modality:US" in report.reasons and "ocr_text" in report.reasons
    assert {region.source for region in report.regions} == {"ocr"}
    back, after = redacted_pixels(output)
    assert not after[:, text_mask].any()  # all text pixels gone, in every frame
    np.testing.assert_array_equal(outside(after, report.regions), outside(pixels, report.regions))
    assert back.BurnedInAnnotation == "NO"
    codes = {(item.CodingSchemeDesignator, item.CodeValue) for item in back.DeidentificationMethodCodeSequence}
    assert ("DCM", "113101") in codes
    expected_syntax = ExplicitVRLittleEndian if syntax == RLELossless else syntax
    assert back.file_meta.TransferSyntaxUID == expected_syntax == result.transfer_syntax_uid


def test_rules_and_qc_regions_are_blanked_without_ocr_and_the_rest_is_untouched():
    ds, pixels, _ = ultrasound_with_text()
    rule = PixelRule(name="test-banner", modality="US", rows=480, columns=640,
                     regions=(RedactionRegion(0, 0, 640, 40, source="rule", rule="test-banner"),))
    qc = RedactionRegion(0, 430, 320, 50, source="qc")
    base = context(ocr=False, pixel_rules=(rule,))
    _, first = deidentify_bytes(synthetic.to_bytes(ds), base)
    ctx = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                      protocol_id="P1", options=base.options,
                      series_regions=((first.series_instance_uid, (qc,)),))
    output, result = deidentify_bytes(synthetic.to_bytes(ds), ctx)
    assert {region.source for region in result.burned_in.regions} == {"rule", "qc"}
    _, after = redacted_pixels(output)
    assert not after[:, :40, :].any() and not after[:, 430:, :320].any()
    np.testing.assert_array_equal(outside(after, result.burned_in.regions), outside(pixels, result.burned_in.regions))


def test_a_flagged_image_without_found_text_is_reported_for_review_and_keeps_its_pixels():
    ds = synthetic.make_ultrasound(burned_in=True)
    data = synthetic.to_bytes(ds)
    output, result = deidentify_bytes(data, context(ocr=False))
    assert result.review_required and not result.burned_in.redacted
    assert "declared_burned_in" in result.burned_in.reasons and result.burned_in.note
    back = pydicom.dcmread(io.BytesIO(output))
    assert back.BurnedInAnnotation == "YES"  # becomes NO only after redaction
    assert back.PixelData == ds.PixelData
    _, off = deidentify_bytes(data, context(clean_pixel_data=False))
    assert off.review_required and off.burned_in.note == "Clean Pixel Data is off"


def test_a_ct_is_not_decoded_or_flagged():
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    _, result = deidentify_bytes(synthetic.to_bytes(ds), context())
    assert not result.burned_in.flagged and not result.burned_in.searched


PUBLIC_US = [(ident, path) for ident, path in corpus() if ident in (
    "deid_data/ultrasounds/GREYSCALE_IMAGE.dcm", "deid_data/ultrasounds/RGB_IMAGE.dcm",
    "deid_data/ultrasounds/ultrasound-multiframe.dcm", "data_store/US1_UNCR.dcm", "data_store/gdcm-US-ALOKA-16.dcm",
)]
# Where each public image carries the patient's name, ID, birth date or institution: (rows, columns) slices.
PHI_BANDS = {
    "deid_data/ultrasounds/GREYSCALE_IMAGE.dcm": [(slice(0, 22), slice(0, 690)), (slice(0, 22), slice(820, 1024))],
    "deid_data/ultrasounds/RGB_IMAGE.dcm": [(slice(0, 55), slice(0, 880))],
    "data_store/US1_UNCR.dcm": [(slice(22, 42), slice(15, 175))],
    "data_store/gdcm-US-ALOKA-16.dcm": [(slice(0, 22), slice(0, 640))],
}


@pytest.mark.parametrize(("ident", "path"), PUBLIC_US, ids=[ident for ident, _ in PUBLIC_US])
def test_public_ultrasounds_lose_their_burned_in_identity(ident, path):
    data = path.read_bytes()
    output, result = deidentify_bytes(data, context())
    assert result.burned_in.redacted and not result.review_required
    original = pydicom.dcmread(io.BytesIO(data))
    frames = int(original.get("NumberOfFrames", 1) or 1)
    before = original.pixel_array.reshape(frames, original.Rows, original.Columns, -1)
    _, after = redacted_pixels(output)
    for rows, columns in PHI_BANDS.get(ident, []):
        assert before[:, rows, columns].any() and not after[:, rows, columns].any()
    np.testing.assert_array_equal(outside(after, result.burned_in.regions), outside(before, result.burned_in.regions))
    if ident.endswith("ultrasound-multiframe.dcm"):
        assert {region.frame for region in result.burned_in.regions} > {1}  # sampled frames beyond the first


def test_a_frame_gives_a_small_png_thumbnail_for_qc():
    from imaging.deid.pixels import png_thumbnail

    _, pixels, _ = ultrasound_with_text()
    data = png_thumbnail(pixels[0], "MONOCHROME2", size=128)
    image = Image.open(io.BytesIO(data))
    assert data.startswith(b"\x89PNG") and max(image.size) == 128
    thumbnail = np.asarray(image)
    assert thumbnail.max() > 240 and thumbnail[0, 0] == 0  # white text on black, as displayed (not inverted)
