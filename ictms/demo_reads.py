"""Signed reads for the demo trial (reads.md "The demo"), taken the way a reader takes them.

Both readers read two cases completely: calipers drawn through the measurement service on the
demo's phantom lesions (ictms.demo_images: a liver and a lung lesion of known size and
position), lesions and observations recorded and timepoints signed through reads.reading with
the demo password. The readers disagree, as real readers do: on 101-001 reader2 measures a little
larger at Week 8 (SD where reader1 finds PR), on 103-001 reader2 calls a new lesion at Week 16
(PD, so the charter stops that read) where reader1 finds none. Every other double-read case stays
unread, so a newcomer can read a baseline and its next timepoint from the first login.

Idempotent and careful: a timepoint is read only while it is ready and empty; a signed one is
passed over, and anything a demo user started by hand is left alone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from ictms import demo_images
from imaging.models import Instance, Measurement
from imaging.viewer.measurements import measurement_create
from reads import reading
from reads.choices import LesionType, ReadTaskState
from reads.models import Lesion, ReadAssignment, ReadTask
from trials.models import Trial

# The phantom's lesions in the order demo_images draws them: (organ, location).
LESIONS = [("liver", "right lobe, segment VII"), ("lung", "left upper lobe")]


@dataclass(frozen=True)
class DemoRead:
    """One reader's read of one case: how far off the true size they measure (mm, per timepoint
    and lesion) and at which timepoints they call an unequivocal new lesion."""

    subject_code: str
    reader: str
    bias_mm: dict[str, tuple[float, float]] = field(default_factory=dict)
    new_lesion_at: tuple[str, ...] = ()


READS = [
    DemoRead("101-001", "reader1"),
    DemoRead("101-001", "reader2", bias_mm={"W8": (2, 1), "W16": (1, 1)}),  # W8: 41 mm (-26.8 %, SD) vs 38 (PR)
    DemoRead("103-001", "reader1"),
    DemoRead("103-001", "reader2", new_lesion_at=("W16",)),  # W16: PD, W24 not required
]


def seed_demo_reads(*, trial: Trial, log: Callable[[str], None]) -> None:
    """Read the cases of READS as far as their visits are accepted (idempotent)."""
    password = settings.ICTMS_DEMO_PASSWORD
    for plan in READS:
        assignment = (ReadAssignment.objects.select_related("case", "reader")
                      .filter(case__trial=trial, case__participant__subject_code=plan.subject_code,
                              reader__username=plan.reader).first())
        if assignment is None:
            continue  # no images yet (seed_demo --skip-images): no case
        if not assignment.reader.check_password(password):
            log(f"{plan.reader} no longer has the demo password: their read of {plan.subject_code} is left as it is")
            continue
        signed = 0
        while True:
            task = (assignment.tasks.select_related("visit__timepoint").exclude(state=ReadTaskState.SIGNED)
                    .order_by("sequence").first())
            if task is None or task.state != ReadTaskState.READY or _started(task):
                break
            _read_timepoint(plan, assignment.reader, task, password)
            signed += 1
        if signed:
            log(f"{plan.reader} read {plan.subject_code} ({assignment.case.code}): {signed} timepoint(s) signed")
    _decide(trial, "103-001", chosen_reader="reader2", password=password, log=log)


def _decide(trial: Trial, subject_code: str, *, chosen_reader: str, password: str, log: Callable[[str], None]) -> None:
    """The adjudicator decides one of the demo's disagreements (the other stays open for a newcomer)."""
    from reads.adjudication import adjudication_decide
    from reads.models import Adjudication

    adjudication = (Adjudication.objects.select_related("adjudicator", "case")
                    .filter(case__trial=trial, case__participant__subject_code=subject_code, state="open").first())
    if adjudication is None or not adjudication.adjudicator.check_password(password):
        return
    slot = ReadAssignment.objects.get(case=adjudication.case, reader__username=chosen_reader).slot
    adjudication_decide(actor=adjudication.adjudicator, adjudication=adjudication, selected=slot,
                        reason_code="new_lesion_call", password=password,
                        rationale="The new liver lesion at Week 16 is unequivocal on the portal venous phase.")
    log(f"adjudicator decided {adjudication.case.code}: Reader {slot}")


def _started(task: ReadTask) -> bool:
    return (task.observations.exists() or task.lesions_added.exists()
            or Measurement.objects.filter(instance__series__study__visit=task.visit, created_by=task.assignment.reader,
                                          is_deleted=False).exists())


@transaction.atomic
def _read_timepoint(plan: DemoRead, reader: User, task: ReadTask, password: str) -> None:
    code = task.visit.timepoint.code
    truth = demo_images.phantom_lesions(plan.subject_code, code)
    bias = plan.bias_mm.get(code, (0.0, 0.0))
    if task.sequence == 0:
        for (organ, location), lesion, extra in zip(LESIONS, truth, bias, strict=True):
            reading.lesion_add(actor=reader, task=task, kind=LesionType.TARGET, organ=organ, location=location,
                               measurement=_caliper(reader, task, lesion, lesion.diameter_mm + extra))
    else:
        targets = list(Lesion.objects.filter(assignment=task.assignment, kind=LesionType.TARGET).order_by("number"))
        for target, lesion, extra in zip(targets, truth, bias, strict=True):
            reading.observation_record(actor=reader, task=task, lesion=target,
                                       measurement=_caliper(reader, task, lesion, lesion.diameter_mm + extra))
        for earlier in Lesion.objects.filter(assignment=task.assignment, kind=LesionType.NEW):
            reading.observation_record(actor=reader, task=task, lesion=earlier, status="unequivocal")
        if code in plan.new_lesion_at:
            reading.lesion_add(actor=reader, task=task, kind=LesionType.NEW, organ="liver",
                               location="left lobe, segment III", status="unequivocal")
        elif not Lesion.objects.filter(assignment=task.assignment, kind=LesionType.NEW).exists():
            reading.new_lesions_none_set(actor=reader, task=task)
    reading.read_task_sign(actor=reader, task=task, password=password)


def _caliper(reader: User, task: ReadTask, lesion: Any, length_mm: float) -> Measurement:
    """A horizontal caliper of `length_mm` across the lesion, on the slice through its centre."""
    instances = list(Instance.objects.filter(series__study__visit=task.visit))
    cx, cy, cz = lesion.center_mm
    instance = min(instances, key=lambda i: abs((i.slice_location if i.slice_location is not None
                                                 else (i.image_position or [0, 0, 0])[2]) - cz))
    spacing = float((instance.pixel_spacing or [demo_images.PIXEL])[0])
    columns = instance.columns or demo_images.SIZE
    rows = instance.rows or demo_images.SIZE
    x0, y0 = (float(v) for v in (instance.image_position or [-(columns - 1) * spacing / 2,
                                                             -(rows - 1) * spacing / 2, 0])[:2])
    column, row = (cx - x0) / spacing, (cy - y0) / spacing
    half = length_mm / spacing / 2
    return measurement_create(actor=reader, instance=instance, kind="line",
                              points=[[column - half, row], [column + half, row]])
