"""Decoding and rendering of each photometric interpretation and transfer syntax (imaging.viewer.render)."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.uid import JPEG2000Lossless, RLELossless

from imaging.viewer.render import (
    FrameIndexError,
    RenderError,
    apply_window,
    clear_frame_cache,
    display_pixels,
    load_frame,
    render,
    render_frame,
    resolve_window,
    thumbnail,
)
from tests.imaging import render_samples as samples


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    clear_frame_cache()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_ct_signed_pixels_are_rescaled_before_the_file_window(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(), tmp_path / "ct.dcm")
    frame = load_frame(path)
    stored = dcmread(path).pixel_array
    hu = stored.astype(np.float64) * 2.0 - 1000.0
    assert frame.pixels.dtype == np.int16
    assert frame.values.dtype == np.float32
    np.testing.assert_array_equal(frame.values, hu)
    rendered = render(frame)
    assert rendered.window is not None
    assert (rendered.window.center, rendered.window.width, rendered.window.source) == (40, 400, "file")
    np.testing.assert_array_equal(decoded(rendered.data), apply_window(hu, 40, 400))


def test_ct_without_a_window_opens_in_soft_tissue_and_presets_switch_it(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(window=False), tmp_path / "ct.dcm")
    frame = load_frame(path)
    window = resolve_window(frame)
    assert window is not None
    assert (window.center, window.width, window.source) == (40, 400, "modality-default")
    lung = decoded(render_frame(path, preset="lung"))
    np.testing.assert_array_equal(lung, apply_window(frame.values, -600, 1500))


def test_explicit_center_and_width_override_the_file_window(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(), tmp_path / "ct.dcm")
    frame = load_frame(path)
    out = decoded(render_frame(path, center=-1000, width=2000))
    np.testing.assert_array_equal(out, apply_window(frame.values, -1000, 2000))


def test_half_a_window_or_an_unknown_preset_is_rejected(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(), tmp_path / "ct.dcm")
    with pytest.raises(ValueError):
        render_frame(path, center=40)
    with pytest.raises(ValueError):
        render_frame(path, preset="spine")
    with pytest.raises(ValueError):
        render_frame(path, center=40, width=0)


def test_unsigned_mr_without_a_window_uses_the_auto_window(tmp_path: Path) -> None:
    path = samples.write(samples.mr_unsigned(), tmp_path / "mr.dcm")
    frame = load_frame(path)
    window = resolve_window(frame)
    assert window is not None and window.source == "auto"
    low, high = np.quantile(frame.pixels, [0.005, 0.995])
    assert window.center - window.width / 2 == pytest.approx(low, abs=50)
    assert window.center + window.width / 2 == pytest.approx(high, abs=50)
    out = decoded(render_frame(path))
    assert out.min() == 0 and out.max() == 255


def test_monochrome1_renders_as_the_inverse_of_monochrome2(tmp_path: Path) -> None:
    one = decoded(render_frame(samples.write(samples.cr("MONOCHROME1"), tmp_path / "m1.dcm")))
    two = decoded(render_frame(samples.write(samples.cr("MONOCHROME2"), tmp_path / "m2.dcm")))
    np.testing.assert_array_equal(one, 255 - two)
    assert one[0, 0] == 255 and one[0, -1] == 0  # low stored values are white in MONOCHROME1


def test_garbage_above_bits_stored_is_ignored(tmp_path: Path) -> None:
    clean, dirty = samples.garbage_high_bits()
    assert int(np.frombuffer(dirty.PixelData, "<u2").max()) > 4095
    clean_png = render_frame(samples.write(clean, tmp_path / "clean.dcm"))
    dirty_path = samples.write(dirty, tmp_path / "dirty.dcm")
    assert load_frame(dirty_path).pixels.max() <= 4095
    assert render_frame(dirty_path) == clean_png


def test_pet_values_are_float_activity_and_auto_windowed(tmp_path: Path) -> None:
    path = samples.write(samples.pet_float_rescale(), tmp_path / "pet.dcm")
    frame = load_frame(path)
    assert frame.values.dtype == np.float32
    assert float(frame.values.max()) == pytest.approx(30000 * 0.37, rel=1e-6)
    window = resolve_window(frame)
    assert window is not None and window.source == "auto"
    out = decoded(render_frame(path))
    assert out[:, 0].max() == 0 and out[:, -1].min() == 255


def test_pet_window_narrower_than_one_unit_still_renders(tmp_path: Path) -> None:
    path = samples.write(samples.pet_float_rescale(), tmp_path / "pet.dcm")
    out = decoded(render_frame(path, center=0.5, width=0.5))  # LINEAR needs w >= 1: exact form used
    assert out[0, 0] == 0 and out[0, -1] == 255


def test_rgb_cine_renders_only_the_requested_frame(tmp_path: Path) -> None:
    ds, colours = samples.us_rgb_cine()
    path = samples.write(ds, tmp_path / "us.dcm")
    first = load_frame(path, 0)
    second = load_frame(path, 1)
    assert first.number_of_frames == 3 and first.is_color
    assert resolve_window(first) is None
    assert tuple(decoded(render_frame(path, 1))[5, 5]) == colours[1]
    assert tuple(decoded(render_frame(path, 2))[5, 5]) == colours[2]
    assert not np.array_equal(first.pixels, second.pixels)


def test_rgb_planar_configuration_one_renders_like_interleaved(tmp_path: Path) -> None:
    interleaved = samples.write(samples.us_rgb_cine()[0], tmp_path / "pc0.dcm")
    planar = samples.write(samples.us_rgb_cine(planar=1)[0], tmp_path / "pc1.dcm")
    for index in range(3):
        expected = decoded(render_frame(interleaved, index))
        np.testing.assert_array_equal(decoded(render_frame(planar, index)), expected)


def test_frame_outside_the_instance_is_a_frame_index_error(tmp_path: Path) -> None:
    path = samples.write(samples.us_rgb_cine()[0], tmp_path / "us.dcm")
    with pytest.raises(FrameIndexError, match="3 frame"):
        load_frame(path, 3)
    with pytest.raises(FrameIndexError):
        load_frame(path, -1)


def test_native_ybr_full_is_converted_to_rgb(tmp_path: Path) -> None:
    ds, rgb = samples.ybr_full_native()
    out = decoded(render_frame(samples.write(ds, tmp_path / "ybr.dcm")))
    assert np.abs(out.astype(int) - rgb).max() <= 2


def test_jpeg_baseline_ybr_full_422_is_converted_to_rgb(tmp_path: Path) -> None:
    ds, rgb = samples.jpeg_baseline_ybr422()
    out = decoded(render_frame(samples.write(ds, tmp_path / "jpeg.dcm")))
    assert out.shape == rgb.shape
    # Lossy and chroma-subsampled: compare away from the red/blue edge.
    assert np.abs(out[:, :20].astype(int) - rgb[:, :20]).max() <= 8
    assert np.abs(out[:, -20:].astype(int) - rgb[:, -20:]).max() <= 8


def test_jpeg_baseline_grayscale_renders(tmp_path: Path) -> None:
    ds, gray = samples.jpeg_baseline_gray()
    frame = load_frame(samples.write(ds, tmp_path / "jpeg.dcm"))
    assert np.abs(frame.pixels.astype(int) - gray).max() <= 2
    assert resolve_window(frame).source == "auto"  # type: ignore[union-attr]


@pytest.mark.parametrize("encoding", ["jpeg-lossless", "jpeg-2000-lossless", "rle"])
@pytest.mark.parametrize("make", [samples.ct_signed, lambda: samples.cr("MONOCHROME1")])
def test_lossless_syntaxes_render_pixel_exact_to_the_native_file(tmp_path: Path, encoding: str, make) -> None:
    native = samples.write(make(), tmp_path / "native.dcm")
    ds = dcmread(native)
    if encoding == "jpeg-lossless":
        ds = samples.jpeg_lossless_sv1(ds)
    elif encoding == "jpeg-2000-lossless":
        ds.compress(JPEG2000Lossless)
    else:
        ds.compress(RLELossless)
    compressed = samples.write(ds, tmp_path / f"{encoding}.dcm")
    assert dcmread(compressed).file_meta.TransferSyntaxUID.is_compressed
    np.testing.assert_array_equal(load_frame(compressed).pixels, load_frame(native).pixels)
    assert render_frame(compressed) == render_frame(native)


def test_palette_color_is_applied(tmp_path: Path) -> None:
    ds, expected = samples.palette_color()
    frame = load_frame(samples.write(ds, tmp_path / "palette.dcm"))
    assert frame.is_color
    np.testing.assert_array_equal(decoded(render(frame).data), expected)


def test_enhanced_multiframe_uses_each_frames_window_and_spacing(tmp_path: Path) -> None:
    path = samples.write(samples.enhanced_mr(), tmp_path / "emr.dcm")
    frame = load_frame(path, 2)
    assert frame.window == (1500.0, 3000.0)
    assert frame.spacing.source == "PixelSpacing" and frame.spacing.row_mm == 0.8
    np.testing.assert_array_equal(decoded(render(frame).data), apply_window(frame.pixels, 1500, 3000))


def test_rendering_from_bytes_and_from_a_dataset_matches_the_path(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(), tmp_path / "ct.dcm")
    from_path = render_frame(path)
    assert render_frame(path.read_bytes()) == from_path
    assert render_frame(dcmread(path)) == from_path


def test_size_limits_the_longer_edge_and_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(), tmp_path / "ct.dcm")  # 64 x 40
    rendered = render(load_frame(path), size=32, fmt="jpeg", quality=70)
    assert rendered.media_type == "image/jpeg" and rendered.data[:2] == b"\xff\xd8"
    assert (rendered.width, rendered.height) == (32, 20)
    assert Image.open(io.BytesIO(rendered.data)).size == (32, 20)
    assert render(load_frame(path), size=1000).width == 64  # never enlarged


def test_thumbnail_is_a_jpeg_of_the_middle_frame(tmp_path: Path) -> None:
    ds, colours = samples.us_rgb_cine(frames=4)
    data = thumbnail(samples.write(ds, tmp_path / "us.dcm"), size=16)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and max(image.size) == 16
    assert np.abs(np.asarray(image)[4, 4].astype(int) - colours[2]).max() <= 8


def test_window_changes_on_a_cached_frame_do_not_decode_again(tmp_path: Path) -> None:
    path = samples.write(samples.ct_signed(), tmp_path / "ct.dcm")
    first = load_frame(path)
    assert load_frame(path) is first
    assert display_pixels(first, resolve_window(first, preset="bone")).shape == (40, 64)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_frame(path) is not first  # a rewritten file is decoded again


def test_unknown_transfer_syntax_is_a_render_error(tmp_path: Path) -> None:
    ds = samples.ct_signed()
    ds = samples._encapsulated(ds, [b"\x00" * 64], "1.2.840.10008.1.2.4.100")  # MPEG2
    path = samples.write(ds, tmp_path / "mpeg.dcm")
    with pytest.raises(RenderError, match="No decoder"):
        render_frame(path)


def test_corrupt_jpeg_2000_stream_is_a_render_error(tmp_path: Path) -> None:
    ds = samples.ct_signed()
    ds = samples._encapsulated(ds, [b"\xff\x4f\xff\x51" + b"\x17" * 200], JPEG2000Lossless)
    with pytest.raises(RenderError, match="cannot be decoded"):
        render_frame(samples.write(ds, tmp_path / "bad.dcm"))


def test_a_file_that_is_not_dicom_is_a_render_error() -> None:
    with pytest.raises(RenderError):
        render_frame(b"this is not a DICOM file at all" * 10)


def test_voi_lut_sequence_applies_when_the_file_has_no_window(tmp_path: Path) -> None:
    ds, table = samples.cr_with_voi_lut_sequence()
    frame = load_frame(samples.write(ds, tmp_path / "voi.dcm"))
    assert resolve_window(frame) is None
    expected = np.floor(table[frame.pixels] * (255.0 / 4095.0) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(decoded(render(frame).data), expected)
    assert render(frame, preset="auto").window.source == "auto"  # type: ignore[union-attr]


def test_modality_lut_sequence_replaces_the_rescale(tmp_path: Path) -> None:
    ds, table = samples.xa_with_modality_lut_sequence()
    frame = load_frame(samples.write(ds, tmp_path / "mlut.dcm"))
    index = np.clip(frame.pixels.astype(int) - 100, 0, table.size - 1)
    np.testing.assert_array_equal(frame.values, table[index])
    np.testing.assert_array_equal(decoded(render(frame).data), apply_window(table[index], 4096, 8192))


def test_compressed_cine_decodes_only_the_requested_frame(tmp_path: Path) -> None:
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    good = samples.jpeg_baseline_cine(colours)
    fragments = [b"\xff\xd8 not a JPEG stream at all \xff\xd9", *samples.jpeg_fragments(good)[1:]]
    path = samples.write(samples.jpeg_cine_of(fragments), tmp_path / "cine.dcm")
    # Frame 0 is corrupt: frames 1 and 2 still render, so frame 0 was never decoded for them.
    for index in (1, 2):
        pixel = decoded(render_frame(path, index))[10, 10].astype(int)
        assert np.abs(pixel - colours[index]).max() <= 6
    with pytest.raises(RenderError):
        render_frame(path, 0)
