"""Where the slices of a series lie: distances along the slice normal, spacing, gaps, duplicates.

Everything is computed from ImagePositionPatient and ImageOrientationPatient, never from the
order of the files or from SliceLocation (which vendors define differently), so the result does
not depend on the order instances arrive in, on gantry tilt, or on oblique acquisitions.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from imaging.qc.rules.model import InstanceInfo, Orientation, Vector3

#: Two slices closer than this along the normal are at the same location (duplicates, phases).
SAME_LOCATION_MM = 0.01
#: Added to every spacing tolerance: float noise and headers written with two decimals.
ROUNDING_ALLOWANCE_MM = 0.01
#: Orientations whose row and column directions differ by less than about one degree are equal.
_SAME_DIRECTION_COS = math.cos(math.radians(1.0))


@dataclass(frozen=True)
class Slice:
    """One frame of the series with its geometry (None when the header does not say)."""

    sop_uid: str
    frame: int
    position: Vector3 | None
    orientation: Orientation | None


@dataclass(frozen=True)
class Gap:
    """Neighbouring locations `missing + 1` spacings apart: `missing` slices are absent between them."""

    start_mm: float
    end_mm: float
    missing: int


@dataclass(frozen=True)
class Interval:
    """Neighbouring locations whose distance is neither the usual spacing nor a multiple of it."""

    start_mm: float
    end_mm: float

    @property
    def length_mm(self) -> float:
        return self.end_mm - self.start_mm


@dataclass(frozen=True)
class SliceGeometry:
    """The slice layout of a series, on its dominant orientation."""

    frames: int
    positioned: int  # frames with both a position and an orientation
    orientations: tuple[Orientation, ...]  # one representative per distinct orientation, largest group first
    locations: tuple[float, ...]  # distinct distances along the normal (mm), ascending
    images_per_location: int  # usual images per location: 1, or n for n phases/echoes
    crowded_locations: int  # locations holding more images than usual
    images_short: int  # images missing at locations holding fewer than usual
    spacing_mm: float | None  # median distance between neighbouring locations
    gaps: tuple[Gap, ...]
    irregular: tuple[Interval, ...]

    @property
    def complete(self) -> bool:
        """Every frame has a position and an orientation."""
        return self.positioned == self.frames

    @property
    def extent_mm(self) -> float | None:
        """Distance between the first and the last location (centre to centre)."""
        return self.locations[-1] - self.locations[0] if len(self.locations) >= 2 else None

    @property
    def missing_slices(self) -> int:
        return sum(gap.missing for gap in self.gaps)


def slices_of(instances: Iterable[InstanceInfo]) -> list[Slice]:
    """Every frame as a slice. A multi-frame instance without per-frame positions only knows its
    first frame's position (the one de-identification reads from the per-frame groups)."""
    slices: list[Slice] = []
    for instance in instances:
        frames = instance.number_of_frames
        per_frame = instance.frame_positions
        if per_frame is not None and len(per_frame) == frames:
            positions: list[Vector3 | None] = list(per_frame)
        else:
            positions = [instance.image_position] + [None] * (frames - 1)
        for frame, position in enumerate(positions):
            slices.append(Slice(instance.sop_uid, frame, position, instance.image_orientation))
    return slices


def _unit(vector: Sequence[float]) -> tuple[float, float, float] | None:
    norm = math.sqrt(sum(c * c for c in vector))
    if norm == 0 or not math.isfinite(norm):
        return None
    return (vector[0] / norm, vector[1] / norm, vector[2] / norm)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def slice_normal(orientation: Orientation) -> tuple[float, float, float] | None:
    """The unit normal of the image plane (row direction × column direction)."""
    row, column = _unit(orientation[:3]), _unit(orientation[3:])
    if row is None or column is None:
        return None
    return _unit((
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    ))


def _same_orientation(a: Orientation, b: Orientation) -> bool:
    rows = (_unit(a[:3]), _unit(b[:3]))
    columns = (_unit(a[3:]), _unit(b[3:]))
    if None in rows or None in columns:
        return False
    return _dot(rows[0], rows[1]) >= _SAME_DIRECTION_COS and _dot(columns[0], columns[1]) >= _SAME_DIRECTION_COS  # type: ignore[arg-type]


def orientation_groups(orientations: Iterable[Orientation]) -> list[list[Orientation]]:
    """Orientations grouped by direction, largest group first (ties: smallest orientation first).

    Orientations are visited in sorted order, so the grouping does not depend on input order.
    """
    groups: list[list[Orientation]] = []
    for orientation in sorted(orientations):
        if slice_normal(orientation) is None:
            continue
        for group in groups:
            if _same_orientation(group[0], orientation):
                group.append(orientation)
                break
        else:
            groups.append([orientation])
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i]), i))
    return [groups[i] for i in order]


def _locations(distances: list[float]) -> tuple[list[float], list[int]]:
    """Distinct locations (ascending) and how many slices sit at each."""
    locations: list[float] = []
    counts: list[int] = []
    for distance in sorted(distances):
        if locations and distance - locations[-1] <= SAME_LOCATION_MM:
            counts[-1] += 1
        else:
            locations.append(distance)
            counts.append(1)
    return locations, counts


def _classify(locations: list[float], spacing: float, tolerance: float) -> tuple[list[Gap], list[Interval]]:
    allowed = tolerance * spacing + ROUNDING_ALLOWANCE_MM
    gaps: list[Gap] = []
    irregular: list[Interval] = []
    for start, end in pairwise(locations):
        distance = end - start
        if abs(distance - spacing) <= allowed:
            continue
        multiple = round(distance / spacing)
        if multiple >= 2 and abs(distance - multiple * spacing) <= allowed:
            gaps.append(Gap(start, end, multiple - 1))
        else:
            irregular.append(Interval(start, end))
    return gaps, irregular


def analyse_slices(instances: Sequence[InstanceInfo], tolerance: float) -> SliceGeometry:
    """Lay the frames of `instances` out along the normal of their dominant orientation.

    The usual spacing is the median distance between neighbouring distinct locations, so a few
    missing or misplaced slices do not change it. A distance within `tolerance` (relative) of it
    is regular; one close to a multiple of it is a gap with missing slices; anything else is
    irregular. Slices in other orientations (a scout stored in the series) are left out; several
    images at one location are counted once, and when every location holds the same number
    (phases, echoes, b-values) that is the series' normal pattern, not duplication.
    """
    slices = slices_of(instances)
    placed = [s for s in slices if s.position is not None and s.orientation is not None]
    groups = orientation_groups(s.orientation for s in placed)  # type: ignore[misc]
    representatives = tuple(group[0] for group in groups)
    locations: list[float] = []
    counts: list[int] = []
    if groups:
        reference = groups[0][0]
        normal = slice_normal(reference)
        assert normal is not None  # groups only hold orientations with a normal
        distances = [
            _dot(s.position, normal)  # type: ignore[arg-type]
            for s in placed
            if _same_orientation(s.orientation, reference)  # type: ignore[arg-type]
        ]
        locations, counts = _locations(distances)
    usual = min(Counter(counts).most_common(), key=lambda item: (-item[1], item[0]))[0] if counts else 1
    crowded = sum(1 for count in counts if count > usual)
    short = sum(usual - count for count in counts if count < usual)
    spacing: float | None = None
    gaps: list[Gap] = []
    irregular: list[Interval] = []
    if len(locations) >= 2:
        spacing = statistics.median(b - a for a, b in pairwise(locations))
    if spacing and len(locations) >= 3:
        gaps, irregular = _classify(locations, spacing, tolerance)
    return SliceGeometry(
        frames=len(slices),
        positioned=len(placed),
        orientations=representatives,
        locations=tuple(locations),
        images_per_location=usual,
        crowded_locations=crowded,
        images_short=short,
        spacing_mm=spacing,
        gaps=tuple(gaps),
        irregular=tuple(irregular),
    )


def missing_instance_numbers(instances: Iterable[InstanceInfo], examples: int = 10) -> tuple[int, tuple[int, ...]]:
    """How many InstanceNumbers are absent between the lowest and the highest present, and the
    first few of them (counted, not listed, because vendors sometimes jump by thousands)."""
    numbers = sorted({i.instance_number for i in instances if i.instance_number is not None})
    count = 0
    first: list[int] = []
    for low, high in pairwise(numbers):
        absent = high - low - 1
        if absent > 0:
            first.extend(range(low + 1, min(high, low + 1 + examples - len(first))))
            count += absent
    return count, tuple(first[:examples])
