"""Slice geometry for stacking a series: the position of each image along the slice normal.

Pure (no Django): the instance list orders slices by it and the viewer syncs two stacks by it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def slice_normal(orientation: Sequence[float] | None) -> tuple[float, float, float] | None:
    """The unit normal (row x column direction cosines) of ImageOrientationPatient, or None."""
    if not orientation or len(orientation) != 6:
        return None
    try:
        rx, ry, rz, cx, cy, cz = (float(v) for v in orientation)
    except (TypeError, ValueError):
        return None
    nx, ny, nz = ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    if not length or not math.isfinite(length):
        return None
    return nx / length, ny / length, nz / length


def slice_position(position: Sequence[float] | None, orientation: Sequence[float] | None) -> float | None:
    """Distance in mm of the image plane from the origin along its normal (None without geometry)."""
    normal = slice_normal(orientation)
    if normal is None or not position or len(position) != 3:
        return None
    try:
        value = sum(float(p) * n for p, n in zip(position, normal, strict=True))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def stack_order(items: Sequence[Any], *, position: Any, number: Any) -> list[Any]:
    """Items sorted along the slice normal when every one has a position, else by instance number.

    `position(item)` gives the slice position (or None) and `number(item)` the instance number
    (or None). Sorting by position fixes series whose instance numbers are out of order; the
    direction follows the instance numbers (head-first or feet-first as the site numbered them).
    """
    positions = [position(item) for item in items]
    by_number = sorted(items, key=lambda item: (number(item) is None, number(item) or 0))
    if not items or any(p is None for p in positions):
        return by_number
    keyed = sorted(zip(positions, range(len(items)), items, strict=True), key=lambda row: (row[0], row[1]))
    ordered = [item for _, _, item in keyed]
    first, last = number(ordered[0]), number(ordered[-1])
    if first is not None and last is not None and first > last:
        ordered.reverse()
    return ordered
