"""Pixel spacing, caliper and bidirectional lengths in mm (imaging.viewer.render)."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import Dataset

from imaging.viewer.render import (
    PixelSpacing,
    bidirectional_mm,
    measure_mm,
    pixel_spacing,
    render_frame,
)
from tests.imaging import render_samples as samples


def test_caliper_across_a_disk_of_known_size_reads_its_diameter(tmp_path: Path) -> None:
    spacing_mm, diameter_mm = 0.7, 30.0
    path = samples.write(samples.disk_phantom(spacing_mm, diameter_mm), tmp_path / "disk.dcm")
    image = np.asarray(Image.open(io.BytesIO(render_frame(path))))
    # Place the caliper on the rendered edges of the disk along its central row, as a reader would.
    row = image.shape[0] // 2
    bright = np.flatnonzero(image[row] > 128)
    p1, p2 = (float(bright[0]), float(row)), (float(bright[-1]) + 1.0, float(row))
    length = measure_mm(p1, p2, pixel_spacing(samples.disk_phantom(spacing_mm, diameter_mm)))
    assert length == pytest.approx(diameter_mm, abs=spacing_mm)  # within one pixel


def test_length_uses_column_spacing_for_x_and_row_spacing_for_y() -> None:
    spacing = PixelSpacing(row_mm=0.5, col_mm=0.8, source="PixelSpacing")
    assert measure_mm((10, 10), (60, 10), spacing) == pytest.approx(40.0)  # 50 columns
    assert measure_mm((10, 10), (10, 60), spacing) == pytest.approx(25.0)  # 50 rows
    assert measure_mm((0, 0), (30, 40), spacing) == pytest.approx(np.hypot(24.0, 20.0))


def test_pixel_spacing_is_read_row_first() -> None:
    ds = Dataset()
    ds.PixelSpacing = [0.5, 0.8]
    assert pixel_spacing(ds) == PixelSpacing(0.5, 0.8, "PixelSpacing")


def test_pixel_spacing_wins_over_imager_pixel_spacing() -> None:
    ds = Dataset()
    ds.PixelSpacing = [0.1, 0.1]
    ds.ImagerPixelSpacing = [0.15, 0.15]
    assert pixel_spacing(ds).source == "PixelSpacing"


def test_imager_pixel_spacing_is_a_flagged_fallback() -> None:
    ds = Dataset()
    ds.ImagerPixelSpacing = [0.15, 0.2]
    spacing = pixel_spacing(ds)
    assert spacing == PixelSpacing(0.15, 0.2, "ImagerPixelSpacing")
    assert measure_mm((0, 0), (10, 0), spacing) == pytest.approx(2.0)


def test_no_spacing_gives_no_length_in_mm() -> None:
    spacing = pixel_spacing(Dataset())
    assert spacing == PixelSpacing(None, None, None)
    assert measure_mm((0, 0), (10, 0), spacing) is None
    assert bidirectional_mm(((0, 0), (10, 0)), ((5, -2), (5, 2)), spacing) is None


def test_zero_or_malformed_pixel_spacing_is_treated_as_missing() -> None:
    ds = Dataset()
    ds.PixelSpacing = [0, 0.5]
    assert pixel_spacing(ds).source is None


def test_ultrasound_region_calibrated_in_cm_gives_spacing() -> None:
    region = Dataset()
    region.PhysicalUnitsXDirection = 3
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.02
    region.PhysicalDeltaY = 0.03
    ds = Dataset()
    ds.SequenceOfUltrasoundRegions = [region]
    spacing = pixel_spacing(ds)
    assert spacing.source == "SequenceOfUltrasoundRegions"
    assert (spacing.row_mm, spacing.col_mm) == pytest.approx((0.3, 0.2))


def test_enhanced_multiframe_spacing_comes_from_the_pixel_measures_group() -> None:
    assert pixel_spacing(samples.enhanced_mr(), 1) == PixelSpacing(0.8, 0.9, "PixelSpacing")


def test_bidirectional_reports_long_and_perpendicular_short_axis() -> None:
    spacing = PixelSpacing(0.5, 0.5, "PixelSpacing")
    result = bidirectional_mm(((10, 20), (50, 20)), ((30, 10), (30, 30)), spacing)
    assert result is not None
    assert result.long_mm == pytest.approx(20.0)
    assert result.short_mm == pytest.approx(10.0)
    assert result.angle_deg == pytest.approx(90.0)


def test_bidirectional_swaps_axes_drawn_in_the_wrong_order() -> None:
    spacing = PixelSpacing(1.0, 1.0, "PixelSpacing")
    result = bidirectional_mm(((0, 0), (0, 4)), ((-5, 2), (5, 2)), spacing)
    assert result is not None and (result.long_mm, result.short_mm) == pytest.approx((10.0, 4.0))


def test_bidirectional_angle_is_measured_in_physical_space() -> None:
    # 45 degrees on screen, but columns are twice as wide as rows in mm.
    spacing = PixelSpacing(row_mm=0.5, col_mm=1.0, source="PixelSpacing")
    result = bidirectional_mm(((0, 0), (10, 10)), ((0, 10), (10, 0)), spacing)
    assert result is not None
    expected = np.degrees(np.arccos(abs(10 * 10 - 5 * 5) / (np.hypot(10, 5) ** 2)))
    assert result.angle_deg == pytest.approx(expected)
    assert result.angle_deg != pytest.approx(90.0)
