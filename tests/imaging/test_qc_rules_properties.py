"""Properties of automated QC on random inputs: order never matters, recomputing is idempotent,
regular stacks pass and one removed slice is always found."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imaging.qc.rules import (
    FindingCode,
    InstanceInfo,
    RequirementRules,
    SeriesInfo,
    VisitContext,
    evaluate_visit,
)
from imaging.qc.rules.geometry import slice_normal
from tests.imaging.qc_synthetic import SCAN_DATE, series

C = FindingCode
DAY = dt.timedelta(days=1)
VISIT = VisitContext(window_start=SCAN_DATE - 7 * DAY, window_end=SCAN_DATE + 7 * DAY, reported_scan_date=SCAN_DATE)
REQUIREMENTS = [
    RequirementRules(id=1, modality="CT", body_region="Chest/abdomen/pelvis", max_slice_thickness_mm=5,
                     min_slices=20, max_pixel_spacing_mm=0.9, contrast="required"),
    RequirementRules(id=2, modality="MR", body_region="Brain", required=False, min_slices=10),
]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def stacks(draw: st.DrawFn, uid: str = "2.25.42", modality: str = "CT") -> SeriesInfo:
    """A regular stack in a random orientation, with random in-plane shifts per slice."""
    yaw, pitch, roll = (draw(st.floats(-math.pi, math.pi)) for _ in range(3))
    row = (math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch))
    helper = (-math.sin(yaw), math.cos(yaw), 0.0)
    side = slice_normal(row + helper)
    assert side is not None
    column = tuple(math.cos(roll) * h + math.sin(roll) * s for h, s in zip(helper, side, strict=False))
    normal = slice_normal(row + column)
    assert normal is not None
    slices = draw(st.integers(20, 60))  # the CT requirement wants 20
    spacing = draw(st.sampled_from([0.625, 1.0, 1.25, 2.5, 3.0, 5.0]))
    start = draw(st.floats(-500, 500))
    shifts = draw(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=slices, max_size=slices))
    instances = [
        InstanceInfo(
            sop_uid=f"{uid}.{k + 1}", instance_number=k + 1,
            image_position=tuple(
                (start + k * spacing) * n + du * r + dv * c for n, r, c in zip(normal, row, column, strict=False)
            ),
            image_orientation=row + column, slice_thickness=spacing, pixel_spacing=(0.7, 0.7), rows=512, columns=512,
            modality=modality, acquisition_date=SCAN_DATE, contrast_agent="Iohexol", study_uid="2.25.1000",
        )
        for k, (du, dv) in enumerate(shifts)
    ]
    return series(3, "CAP", uid=uid, body_part="CAP", modality=modality, instances=instances)


def broken(item: SeriesInfo, data: st.DataObject) -> SeriesInfo:
    """The stack with a random selection of things wrong with it."""
    instances = list(item.instances)
    if data.draw(st.booleans(), "gap") and len(instances) > 4:
        del instances[data.draw(st.integers(1, len(instances) - 2), "removed")]
    if data.draw(st.booleans(), "thick"):
        instances = [replace(i, slice_thickness=7.0) for i in instances]
    if data.draw(st.booleans(), "no contrast"):
        instances = [replace(i, contrast_agent="") for i in instances]
    if data.draw(st.booleans(), "late"):
        instances = [replace(i, acquisition_date=SCAN_DATE + 30 * DAY) for i in instances]
    if data.draw(st.booleans(), "no position"):
        instances[0] = replace(instances[0], image_position=None)
    if data.draw(st.booleans(), "unreadable"):
        instances[-1] = replace(instances[-1], readable=False)
    return replace(item, instances=tuple(instances))


def visit_series(data: st.DataObject) -> list[SeriesInfo]:
    ct = broken(data.draw(stacks(), "ct"), data)
    mr = data.draw(stacks("2.25.43", "MR"), "mr")
    mr = replace(mr, series_number=7, description="T1 AX BRAIN", body_part="BRAIN")
    extra = series(1, "Scout", body_part="", slices=2)
    return [ct, mr, extra]


@FAST
@given(st.data())
def test_shuffling_instances_series_and_requirements_never_changes_the_result(data):
    items = visit_series(data)
    expected = evaluate_visit(items, REQUIREMENTS, VISIT)
    shuffled = [replace(s, instances=tuple(data.draw(st.permutations(s.instances)))) for s in items]
    shuffled = data.draw(st.permutations(shuffled))
    assert evaluate_visit(shuffled, data.draw(st.permutations(REQUIREMENTS)), VISIT) == expected


@FAST
@given(st.data())
def test_sending_instances_twice_never_changes_the_result(data):
    items = visit_series(data)
    expected = evaluate_visit(items, REQUIREMENTS, VISIT)
    doubled = [replace(s, instances=s.instances + s.instances[: len(s.instances) // 2]) for s in items]
    assert evaluate_visit(doubled, REQUIREMENTS, VISIT) == expected


@FAST
@given(st.data())
def test_recomputing_gives_an_equal_result(data):
    items = visit_series(data)
    first = evaluate_visit(items, REQUIREMENTS, VISIT)
    assert evaluate_visit(items, REQUIREMENTS, VISIT) == first
    assert [f.as_dict() for f in first.findings] == [f.as_dict() for f in evaluate_visit(items, REQUIREMENTS, VISIT).findings]


@FAST
@given(stacks())
def test_a_regular_stack_in_any_orientation_passes(item):
    assert evaluate_visit([item], REQUIREMENTS[:1], VISIT).codes() == []


@FAST
@given(stacks(), st.data())
def test_one_removed_inner_slice_is_always_found(item, data):
    removed = data.draw(st.integers(2, len(item.instances) - 1))
    gap = replace(item, instances=tuple(i for i in item.instances if i.instance_number != removed))
    result = evaluate_visit([gap], REQUIREMENTS[:1], VISIT)
    finding = next(f for f in result.findings if f.code == C.MISSING_SLICES)
    assert finding.details["missing"] == 1
    assert finding.details["missing_instance_numbers"] == [removed]


@FAST
@given(st.data())
def test_findings_keys_are_unique_and_json_ready(data):
    import json

    result = evaluate_visit(visit_series(data), REQUIREMENTS, VISIT)
    keys = [f.key for f in result.findings]
    assert len(keys) == len(set(keys))
    json.dumps([f.as_dict() for f in result.findings])
