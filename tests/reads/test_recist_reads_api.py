"""The public RECIST example cases read end to end through the reading API (reads.md "Reading a timepoint").

For each case of tests/reads/data/ the product can enter, a participant gets one accepted visit
per timepoint (scan dates at the case's weeks), and the reader does what a radiologist would:
at baseline draws a caliper of each target's diameter (a node: a bidirectional whose short axis
is the diameter), POSTs it as a target lesion, POSTs the non-targets and signs; at each
follow-up records every target (a measurement, disappeared, too small or not evaluable), every
non-target's status and the new-lesion answer, and signs. The responses the product stored at
signing (`ReadTask.response`) are then put in the case-file output shape and compared with the
case's `expected` block by the engine's own `compare_with_expected`.

Skipped (the product cannot enter them, see `_skip_reason`):
- X18-nodes-pd-before-cr-protocol: its protocol switches off `cr_check_before_pd`, a charter
  option the read design does not offer (the product always checks CR before PD).
Cases with a baseline method other than CT or a lesion kind other than solid would be skipped
as well (the product measures CT and records no lesion kind); the example files have none.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from imaging.models import Instance
from imaging.viewer.measurements import measurement_create
from reads.choices import ORGANS
from reads.models import ReadCase, ReadTask
from reads.recist import (
    TOO_SMALL,
    LesionKind,
    MeasurementMethod,
    NewLesions,
    NonTargetStatus,
    RecistConfig,
    compare_with_expected,
    parse_case,
)
from reads.services import read_design_save
from reads.verification import signatures_verify
from tests.imaging.factories import make_series
from tests.reads.factories import accept
from tests.trials import factories as f
from trials.services import timepoint_create

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"
DATA = Path(__file__).parent / "data"
CASES = [case for name in ("recist-examples.json", "recist-cases-extra.json")
         for case in json.loads((DATA / name).read_text())]
SKIPPED = {"X18-nodes-pd-before-cr-protocol"}
SPACING = 0.7  # mm per pixel of make_series' phantom
SIZE = 256  # px: 179 mm, room for the longest caliper (150 mm)
# The charter options a read design carries (ReadDesign fields); any other protocol setting cannot be entered.
DESIGN_OPTIONS = ("confirmation_required", "confirmation_min_weeks", "sd_min_weeks", "visit_window_weeks",
                  "adjudication_triggers")
NON_TARGET = {NonTargetStatus.PRESENT: "present", NonTargetStatus.ABSENT: "absent",
              NonTargetStatus.UNEQUIVOCAL_PD: "unequivocal_progression",
              NonTargetStatus.NOT_EVALUATED: "not_evaluable"}


def _skip_reason(case: dict[str, Any]) -> str:
    parsed = parse_case(case)
    other = dataclasses.replace(parsed.config, **{name: getattr(RecistConfig(), name) for name in DESIGN_OPTIONS})
    if other != RecistConfig():
        changed = [f.name for f in dataclasses.fields(RecistConfig)
                   if getattr(other, f.name) != getattr(RecistConfig(), f.name)]
        return f"protocol option(s) the read design does not offer: {', '.join(changed)}"
    for name in ("confirmation_min_weeks", "sd_min_weeks", "visit_window_weeks"):
        if getattr(parsed.config, name) != int(getattr(parsed.config, name)):
            return f"{name} is not a whole number of weeks (the read design stores weeks)"
    for target in parsed.baseline.targets:
        if target.method != MeasurementMethod.CT:
            return f"{target.lesion_id} measured by {target.method}: readers measure CT images"
        if target.kind != LesionKind.SOLID:
            return f"{target.lesion_id} is a {target.kind} lesion: the product records no lesion kind"
    nodes = {t.lesion_id for t in parsed.baseline.targets if t.is_node}
    for followup in parsed.followups:
        if any(followup.targets.get(label) == 0 for label in nodes):
            return "a target node at 0 mm: nodes are always measured"
    return ""


def test_the_skipped_cases_are_the_ones_documented():
    assert {case["id"] for case in CASES if _skip_reason(case)} == SKIPPED


def _variants() -> list[Any]:
    """Every case with the design's default (unconfirmed best response); the cases whose confirmed
    best response differs also with `confirmation_required` on."""
    out = []
    for case in CASES:
        marks = [pytest.mark.skip(reason=_skip_reason(case))] if case["id"] in SKIPPED else []
        out.append(pytest.param(case, False, id=case["id"], marks=marks))
        expected = case["expected"]
        if expected["best_overall_response_confirmed"] != expected["best_overall_response_unconfirmed"]:
            out.append(pytest.param(case, True, id=f"{case['id']}-confirmed", marks=marks))
    return out


def _organ(name: str) -> str:
    """The case file's organ on the product's controlled list (lymph node stations -> lymph node)."""
    name = name.strip().lower()
    if name in ORGANS:
        return name
    if "lymph node" in name:
        return "lymph node"
    return "other"


def _days(weeks: Decimal) -> int:
    return int((weeks * 7).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _build(world: Any, case: dict[str, Any], confirmation: bool, stop_after_progression: bool | None = None) -> ReadCase:
    """A single read by world.reader of 101-001, one accepted visit per timepoint of the case.

    A case that goes on after progression is read on (the charter's option) unless told otherwise."""
    parsed = parse_case(case)
    config = parsed.config
    expected = case["expected"]["per_followup"]
    if stop_after_progression is None:
        stop_after_progression = not any(tp["overall_response"] == "PD" for tp in expected[:-1])
    read_design_save(actor=world.admin, trial=world.trial, paradigm="single", readers=["reader_a"],
                     adjudicators=["adjudicator_a"], confirmation_required=confirmation,
                     confirmation_min_weeks=int(config.confirmation_min_weeks), sd_min_weeks=int(config.sd_min_weeks),
                     visit_window_weeks=int(config.visit_window_weeks),
                     stop_after_progression=stop_after_progression)
    schedule = list(world.timepoints)
    while len(schedule) < len(parsed.followups) + 1:
        week = 8 * len(schedule)
        schedule.append(timepoint_create(actor=world.admin, trial=world.trial, code=f"W{week}", label=f"Week {week}",
                                         order=len(schedule) + 1, nominal_day=7 * week, window_before=7,
                                         window_after=7, is_baseline=False))
    start = dt.date.today() - dt.timedelta(days=7 * 60)
    thicknesses = sorted({t.slice_thickness_mm or Decimal("2.5") for t in parsed.baseline.targets} or {Decimal("2.5")})
    offsets = [0] + [_days(fu.weeks) for fu in parsed.followups]
    for i, (timepoint, days) in enumerate(zip(schedule, offsets, strict=False)):
        visit = f.visit(world.participant, timepoint.code)
        visit.scan_date = start + dt.timedelta(days=days)
        visit.save()
        make_series(visit, n=len(thicknesses) if i == 0 else 1, rows=SIZE, columns=SIZE)
        instances = Instance.objects.filter(series__study__visit=visit).order_by("instance_number")
        for instance, thickness in zip(instances, thicknesses if i == 0 else [Decimal("2.5")], strict=True):
            Instance.objects.filter(pk=instance.pk).update(slice_thickness=float(thickness))
        accept(visit, actor=world.qc)
    return ReadCase.objects.get(participant=world.participant)


def _draw(reader: Any, instance: Instance, row: int, length_mm: Decimal, short_axis_mm: Decimal | None = None) -> int:
    """A caliper of `length_mm` (with a short axis: a bidirectional) drawn across one image, through the
    measurement service; returns its id."""
    pixels = float(length_mm) / SPACING
    y = 20.0 + 36.0 * row
    points: list[list[float]] = [[2.0, y], [2.0 + pixels, y]]
    kind = "line"
    if short_axis_mm is not None:
        half, middle = float(short_axis_mm) / SPACING / 2, 2.0 + pixels / 2
        points += [[middle, y - half], [middle, y + half]]
        kind = "bidirectional"
    return measurement_create(actor=reader, instance=instance, kind=kind, points=points).pk


def _node_long_axis(short_axis: Decimal) -> Decimal:
    return short_axis + 6


class Reader:
    """The reader's client and the API calls of one read."""

    def __init__(self, world: Any, client: Any, case: ReadCase, timepoints: int) -> None:
        self.world, self.client, self.case, self.timepoints = world, client, case, timepoints

    def tasks(self) -> list[ReadTask]:
        """The tasks of the case's timepoints (the schedule's later visits are never imaged)."""
        return list(ReadTask.objects.filter(assignment__case=self.case, assignment__reader=self.world.reader)
                    .select_related("visit__timepoint").order_by("sequence"))[:self.timepoints]

    def post(self, task: ReadTask, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"/api/read-tasks/{task.pk}/{action}/", payload, format="json")
        assert response.status_code in (200, 201), (action, payload, response.json())
        return response.json()

    def sign(self, task: ReadTask) -> None:
        self.post(task, "sign", {"password": PASSWORD})
        task.refresh_from_db()
        assert task.state == "signed"


def _read(reader: Reader, case: dict[str, Any]) -> dict[str, int]:
    """The whole read through the API; returns the lesion ids by the case file's lesion ids."""
    parsed = parse_case(case)
    tasks = reader.tasks()
    baseline, world = tasks[0], reader.world
    instances = list(Instance.objects.filter(series__study__visit=baseline.visit).order_by("instance_number"))
    thickness = {Decimal(str(i.slice_thickness)): i for i in instances}
    ids: dict[str, int] = {}
    for row, target in enumerate(parsed.baseline.targets):
        instance = thickness[target.slice_thickness_mm or Decimal("2.5")]
        if target.is_node:
            m = _draw(world.reader, instance, row, _node_long_axis(target.diameter_mm), target.diameter_mm)
        else:
            m = _draw(world.reader, instance, row, target.diameter_mm)
        body = reader.post(baseline, "lesions", {"kind": "target", "organ": _organ(target.organ),
                                                  "location": target.organ, "lymph_node": target.is_node,
                                                  "measurement": m})
        assert body["observation"]["diameter_mm"] == float(target.diameter_mm), target
        ids[target.lesion_id] = body["id"]
    for non_target in parsed.baseline.non_targets:
        body = reader.post(baseline, "lesions", {"kind": "non_target", "organ": _organ(non_target.organ),
                                                  "location": non_target.organ, "lymph_node": non_target.is_node})
        ids[non_target.lesion_id] = body["id"]
    reader.sign(baseline)

    nodes = {t.lesion_id for t in parsed.baseline.targets if t.is_node}
    new_lesions: list[tuple[int, str]] = []  # (lesion id, its last status), in the order recorded
    for task, followup in zip(tasks[1:], parsed.followups, strict=True):
        task.refresh_from_db()
        assert task.state == "ready", (task.visit.timepoint_id, task.state)
        instance = Instance.objects.filter(series__study__visit=task.visit).first()
        for row, (label, value) in enumerate(followup.targets.items()):
            payload: dict[str, Any] = {"lesion": ids[label]}
            if value is None:
                payload["not_evaluable"] = "Not imaged at this timepoint."
            elif value is TOO_SMALL:
                payload["too_small"] = True
            elif value == 0 and label not in nodes:
                payload["disappeared"] = True
            elif label in nodes:
                payload["measurement"] = _draw(world.reader, instance, row, _node_long_axis(value), value)
            else:
                payload["measurement"] = _draw(world.reader, instance, row, value)
            reader.post(task, "observations", payload)
        for label, status in followup.non_targets.items():
            reader.post(task, "observations", {"lesion": ids[label], "status": NON_TARGET[status]})
        new_lesions = _new_lesions(reader, task, followup.new_lesions, new_lesions)
        reader.sign(task)
    return ids


def _new_lesions(reader: Reader, task: ReadTask, answer: NewLesions,
                 recorded: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Answer the new-lesion question. A lesion found earlier stays on the list and is recorded again:
    an equivocal one stays equivocal or becomes unequivocal (confirmation), otherwise it is absent;
    with nothing equivocal to carry on, a new lesion is POSTed."""
    wanted = {NewLesions.EQUIVOCAL: "equivocal", NewLesions.YES: "unequivocal"}.get(answer)
    carried = next((pk for pk, status in reversed(recorded) if status == "equivocal"), None) if wanted else None
    out = []
    for pk, _ in recorded:
        status = wanted if pk == carried else "absent"
        reader.post(task, "observations", {"lesion": pk, "status": status})
        out.append((pk, status))
    if wanted and carried is None:
        body = reader.post(task, "lesions", {"kind": "new", "organ": "liver", "location": "new finding",
                                             "status": wanted})
        out.append((body["id"], wanted))
    if not wanted:
        response = reader.client.patch(f"/api/read-tasks/{task.pk}/", {"new_lesions": "none"}, format="json")
        assert response.status_code == 200, response.json()
    return out


def _result(reader: Reader, case: dict[str, Any], confirmation: bool) -> dict[str, Any]:
    """The stored responses in the case-file output shape (recist-cases-format.md)."""
    parsed = parse_case(case)
    tasks = reader.tasks()
    responses = [t.response for t in tasks]
    weeks_by_label = {t.visit.timepoint.label: fu.weeks for t, fu in zip(tasks[1:], parsed.followups, strict=True)}
    last = responses[-1]
    best = "best_overall_response_confirmed" if confirmation else "best_overall_response_unconfirmed"
    progression = last.get("progression_timepoint")
    return {
        "id": case["id"],
        "baseline_sum_mm": responses[0]["baseline_sum_mm"],
        "per_followup": [
            {"sum_mm": r["sum_mm"], "nadir_mm": r["nadir_mm"], "pct_change_from_baseline": r["change_from_baseline_pct"],
             "pct_change_from_nadir": r["change_from_nadir_pct"], "target_response": r["target"],
             "non_target_response": r["non_target"], "overall_response": r["overall"]}
            for r in responses[1:]],
        best: last["best_response"],
        "date_of_progression_weeks": None if progression is None else weeks_by_label[progression],
    }


@pytest.mark.parametrize(("case", "confirmation"), _variants())
def test_example_case_read_through_the_api_gives_the_expected_responses(world, api, case, confirmation):
    world.reader.set_password(PASSWORD)
    world.reader.save()
    read_case = _build(world, case, confirmation)
    reader = Reader(world, api(world.reader), read_case, len(case["followups"]) + 1)
    _read(reader, case)
    expected = dict(case["expected"])
    expected.pop("best_overall_response_unconfirmed" if confirmation else "best_overall_response_confirmed")
    expected["id"] = case["id"]
    result = _result(reader, case, confirmation)
    assert compare_with_expected(result, expected) == []
    # Every follow-up's response carries the baseline sum it was measured against.
    assert {t.response["baseline_sum_mm"] for t in reader.tasks()[1:]} == {expected["baseline_sum_mm"]}
    # Each signature still matches what it signed once the later timepoints are read.
    report = signatures_verify()
    assert report.ok and report.checked == len(case["followups"]) + 1, report.problems


def test_with_the_default_charter_reading_stops_at_progression(world, api):
    """X30 read with the design's default: once week 8 is signed PD, week 16 is not required."""
    case = next(c for c in CASES if c["id"] == "X30-timepoints-after-pd-ignored")
    world.reader.set_password(PASSWORD)
    world.reader.save()
    reader = Reader(world, api(world.reader), _build(world, case, False, stop_after_progression=True), 2)
    short = {**case, "followups": case["followups"][:1]}
    _read(reader, short)
    baseline, week8, week16 = ReadTask.objects.filter(
        assignment__case=reader.case, assignment__reader=world.reader).order_by("sequence")[:3]
    assert (baseline.state, week8.state, week16.state) == ("signed", "signed", "not_required")
    assert week8.response["overall"] == "PD" and week8.response["progression_timepoint"] == "Week 8"
    result = _result(reader, short, False)
    assert compare_with_expected(result["per_followup"][0], case["expected"]["per_followup"][0]) == []
