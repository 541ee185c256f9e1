"""Rendering of the real-world test files that ship inside the pinned pydicom wheel.

They come from dcmtk, GDCM and scanner exports, so they cover quirks the synthetic samples do not
(JPEG-LS, 12-bit JPEG extended, big endian, YBR_RCT JPEG 2000, 16/32-bit RLE colour, palettes).
"""

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from imaging.viewer.render import RenderError, clear_frame_cache, load_frame, render, render_frame
from tests.imaging import render_samples as samples

FILES = Path(pydicom.__file__).parent / "data" / "test_files"

# Some of these files are quirky on purpose, and pydicom says so while reading them.
pytestmark = pytest.mark.filterwarnings("ignore:Expected explicit VR", "ignore:Invalid value for VR")


def vendor_file(name: str) -> Path:
    path = FILES / name
    if not path.exists():
        pytest.skip(f"{name} is not shipped with this pydicom")
    return path


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)), dtype=np.int64)


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    clear_frame_cache()


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_implicit.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_lossless_and_byte_order_variants_of_an_mr_render_identically(name: str) -> None:
    reference = render_frame(vendor_file("MR_small.dcm"))
    assert render_frame(vendor_file(name)) == reference


@pytest.mark.parametrize(
    ("name", "photometric", "shape"),
    [
        ("CT_small.dcm", "MONOCHROME2", (128, 128)),
        ("JPGExtended.dcm", "MONOCHROME2", (1024, 256)),  # 12-bit JPEG extended
        ("JPEG2000.dcm", "MONOCHROME2", (1024, 256)),
        ("693_J2KI.dcm", "MONOCHROME2", (512, 512)),
        ("J2K_pixelrep_mismatch.dcm", "MONOCHROME2", (512, 512)),
        ("JPEGLSNearLossless_16.dcm", "MONOCHROME2", (50, 10)),
        ("examples_overlay.dcm", "MONOCHROME2", (300, 484)),
        ("rtdose.dcm", "MONOCHROME2", (10, 10)),  # 32-bit: rendered without a table
        ("examples_jpeg2k.dcm", "YBR_RCT", (480, 640, 3)),
        ("GDCMJ2K_TextGBR.dcm", "YBR_RCT", (400, 400, 3)),
        ("examples_palette.dcm", "PALETTE COLOR", (350, 800, 3)),
        ("examples_ybr_color.dcm", "YBR_FULL_422", (240, 320, 3)),
        ("SC_rgb_rle_16bit.dcm", "RGB", (100, 100, 3)),
        ("SC_rgb_rle_32bit_2frame.dcm", "RGB", (100, 100, 3)),
        ("SC_rgb_jpeg.dcm", "RGB", (256, 256, 3)),  # junk after the fragments: whole-file fallback
        ("SC_rgb_jls_lossy_sample.dcm", "RGB", (100, 100, 3)),
        ("SC_ybr_full_422_uncompressed.dcm", "YBR_FULL_422", (100, 100, 3)),
        ("ExplVR_BigEnd.dcm", "RGB", (60, 80, 3)),
        ("image_dfl.dcm", "MONOCHROME2", (512, 512)),  # Deflated: needs the whole-file fallback
    ],
)
def test_vendor_file_renders(name: str, photometric: str, shape: tuple[int, ...]) -> None:
    frame = load_frame(vendor_file(name))
    assert frame.photometric_interpretation == photometric
    assert frame.pixels.shape == shape
    image = decoded(render(frame).data)
    assert image.shape == shape
    assert image.max() > image.min()  # not a blank frame


def test_multiframe_ybr_ultrasound_frames_differ() -> None:
    path = vendor_file("examples_ybr_color.dcm")
    first = load_frame(path, 0)
    assert first.number_of_frames == 30
    assert not np.array_equal(load_frame(path, 0).pixels, load_frame(path, 29).pixels)


@pytest.mark.parametrize(
    "name",
    ["SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm"],
)
def test_ybr_jpeg_variants_match_the_rgb_jpeg_of_the_same_picture(name: str) -> None:
    rgb = decoded(render_frame(vendor_file("SC_rgb_dcmtk_+eb+cr.dcm")))
    ybr = decoded(render_frame(vendor_file(name)))
    assert np.abs(ybr - rgb).mean() < 3  # lossy encodings of one picture, colours not swapped


def test_a_file_without_file_meta_renders_with_the_inferred_syntax(tmp_path: Path) -> None:
    ds = samples.ct_signed()
    expected = render_frame(ds)
    del ds.file_meta
    path = tmp_path / "no-meta.dcm"
    ds.save_as(path, implicit_vr=True, little_endian=True)
    assert render_frame(path) == expected


@pytest.mark.parametrize("name", ["JPEG-lossy.dcm", "MR_truncated.dcm", "rtplan.dcm", "badVR.dcm"])
def test_broken_or_pixel_less_vendor_files_are_render_errors(name: str) -> None:
    with pytest.raises(RenderError):
        render_frame(vendor_file(name))
