"""Slice geometry: spacing from positions along the normal, whatever the file order, tilt or frame layout."""

from __future__ import annotations

import math
from dataclasses import replace

from imaging.qc.rules import (
    FindingCode,
    InstanceInfo,
    RequirementRules,
    SeriesInfo,
    VisitContext,
    evaluate_visit,
)
from imaging.qc.rules.geometry import analyse_slices, missing_instance_numbers, slice_normal
from tests.imaging.qc_synthetic import series, stack, without

C = FindingCode
CHEST = RequirementRules(id=1, modality="CT", body_region="Chest")
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


DATES = {C.VISIT_WINDOW_UNKNOWN, C.SCAN_DATE_MISSING}


def codes(*items: SeriesInfo, requirement: RequirementRules = CHEST) -> list[str]:
    """The findings other than about dates (these series have no visit window)."""
    return [c for c in evaluate_visit(list(items), [requirement], VisitContext()).codes() if c not in DATES]


def test_the_normal_of_an_axial_image_is_the_feet_to_head_axis():
    assert slice_normal((1, 0, 0, 0, 1, 0)) == (0.0, 0.0, 1.0)


def test_reversed_file_order_changes_nothing():
    item = without(series(), 20)
    assert codes(replace(item, instances=item.instances[::-1])) == codes(item) == [C.MISSING_SLICES]


def test_slices_numbered_from_head_to_feet_are_regular():
    item = series(spacing=-5.0)
    assert codes(item) == []
    assert analyse_slices(item.instances, 0.1).spacing_mm == 5.0


def test_a_sagittal_stack_is_measured_along_its_own_normal():
    item = series(orientation=SAGITTAL, spacing=3.0, thickness=3.0, slices=40)
    geometry = analyse_slices(item.instances, 0.1)
    assert geometry.spacing_mm == 3.0 and geometry.complete
    assert codes(without(item, 7)) == [C.MISSING_SLICES]


def _tilted(slices: int = 50, tilt_degrees: float = 20.0, drop: int | None = None) -> SeriesInfo:
    """A gantry-tilted CT: the image plane is tilted, the table moves straight along z."""
    t = math.radians(tilt_degrees)
    orientation = (1.0, 0.0, 0.0, 0.0, math.cos(t), -math.sin(t))
    instances = [
        InstanceInfo(sop_uid=f"2.25.77.{k}", instance_number=k + 1, image_position=(-200.0, -200.0, 2.5 * k),
                     image_orientation=orientation, slice_thickness=2.5, pixel_spacing=(0.7, 0.7), rows=512,
                     columns=512, modality="CT")
        for k in range(slices)
        if k != drop
    ]
    return series(instances=instances)


def test_a_gantry_tilted_stack_is_regular_and_its_gaps_are_found():
    assert codes(_tilted()) == []
    assert codes(_tilted(drop=25)) == [C.MISSING_SLICES]


def _oblique(yaw: float, pitch: float, offsets: list[tuple[float, float]]) -> SeriesInfo:
    """An oblique MR stack whose slices also shift in-plane (which must not matter)."""
    row = (math.cos(yaw), math.sin(yaw), 0.0)
    column = (-math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch))
    normal = slice_normal(row + column)
    assert normal is not None
    instances = []
    for k, (du, dv) in enumerate(offsets):
        position = tuple(10 + 4.0 * k * n + du * r + dv * c for n, r, c in zip(normal, row, column, strict=False))
        instances.append(InstanceInfo(sop_uid=f"2.25.88.{k}", instance_number=k + 1, image_position=position,
                                      image_orientation=row + column, slice_thickness=4.0, modality="MR"))
    return series(modality="MR", instances=instances)


def test_an_oblique_stack_with_in_plane_shifts_is_regular():
    item = _oblique(0.4, 0.3, [(k * 1.7, -k * 0.9) for k in range(30)])
    assert codes(item, requirement=RequirementRules(id=1, modality="MR", body_region="Chest")) == []
    assert math.isclose(analyse_slices(item.instances, 0.1).spacing_mm or 0, 4.0, abs_tol=1e-9)


def test_a_multi_frame_object_with_per_frame_positions_is_checked_frame_by_frame():
    frames = [(0.0, 0.0, 1.25 * k) for k in range(120)]
    enhanced = InstanceInfo(sop_uid="2.25.9.1", instance_number=1, number_of_frames=120, frame_positions=frames,
                            image_position=frames[0], image_orientation=(1, 0, 0, 0, 1, 0), slice_thickness=1.25,
                            pixel_spacing=(0.7, 0.7), rows=512, columns=512, modality="CT")
    assert codes(series(instances=[enhanced])) == []
    broken = replace(enhanced, frame_positions=[*frames[:60], (0.0, 0.0, 1.25 * 61), *frames[62:], (0.0, 0.0, 148.75 + 1.9)])
    assert codes(series(instances=[broken])) == [C.MISSING_SLICES, C.IRREGULAR_SLICE_SPACING]


def test_a_multi_frame_object_without_per_frame_positions_cannot_be_checked():
    enhanced = InstanceInfo(sop_uid="2.25.9.1", instance_number=1, number_of_frames=120, image_position=(0, 0, 0),
                            image_orientation=(1, 0, 0, 0, 1, 0), slice_thickness=1.25, modality="CT")
    result = evaluate_visit([series(instances=[enhanced])], [CHEST], VisitContext())
    finding = next(f for f in result.findings if f.code == C.SLICE_POSITION_MISSING)
    assert "119 of its 120 images record no slice position" in finding.message
    assert result.measurements[0].slices == 120


def test_the_same_instance_sent_twice_is_counted_once():
    item = series()
    twice = replace(item, instances=item.instances + item.instances[:10])
    result = evaluate_visit([twice], [CHEST], VisitContext())
    assert result.codes() == [C.VISIT_WINDOW_UNKNOWN]
    assert result.measurements[0].images == 60


def test_the_same_series_given_twice_is_merged():
    item = series()
    first, second = replace(item, instances=item.instances[:30]), replace(item, instances=item.instances[30:])
    assert evaluate_visit([first, second], [CHEST], VisitContext()) == evaluate_visit([item], [CHEST], VisitContext())


def test_a_slice_moved_halfway_is_irregular_not_a_gap():
    instances = list(stack("2.25.5", 20))
    instances[10] = replace(instances[10], image_position=(-180.0, -180.0, -150.0 + 10 * 5.0 + 2.5))
    geometry = analyse_slices(instances, 0.1)
    assert geometry.gaps == () and len(geometry.irregular) == 2


def test_a_double_distance_is_one_missing_slice():
    instances = [i for i in stack("2.25.5", 20) if i.instance_number != 8]
    geometry = analyse_slices(instances, 0.1)
    assert [(g.missing, g.end_mm - g.start_mm) for g in geometry.gaps] == [(1, 10.0)]
    assert geometry.irregular == ()


def test_several_neighbouring_missing_slices_are_counted():
    instances = [i for i in stack("2.25.5", 30) if i.instance_number not in (10, 11, 12, 13)]
    assert analyse_slices(instances, 0.1).missing_slices == 4


def test_a_phase_short_of_one_image_is_missing_an_image():
    phases = stack("2.25.p1", 30) + tuple(i for i in stack("2.25.p2", 30, first_number=31) if i.instance_number != 45)
    geometry = analyse_slices(phases, 0.1)
    assert geometry.images_per_location == 2 and geometry.images_short == 1
    assert codes(series(instances=phases)) == [C.MISSING_SLICES]


def test_two_slices_are_too_few_to_judge_spacing():
    geometry = analyse_slices(stack("2.25.5", 2, spacing=5.0), 0.1)
    assert geometry.spacing_mm == 5.0 and geometry.gaps == () and geometry.irregular == ()


def test_missing_instance_numbers_are_counted_not_listed():
    instances = stack("2.25.5", 3) + stack("2.25.6", 2, first_number=5_000_000)
    count, first = missing_instance_numbers(instances, examples=4)
    assert count == 5_000_000 - 4 and first == (4, 5, 6, 7)


def test_malformed_header_vectors_count_as_missing_instead_of_failing():
    instance = InstanceInfo(sop_uid="2.25.1", image_position=[1.0, 2.0], image_orientation=["x"] * 6,
                            pixel_spacing=[float("nan"), 0.7])
    assert (instance.image_position, instance.image_orientation, instance.pixel_spacing) == (None, None, None)
    assert InstanceInfo(sop_uid="2.25.2", image_position=["1", 2, 3.5]).image_position == (1.0, 2.0, 3.5)
