"""One trial's final reads as the read package's input (reads.package.model), from the database.

`package_input(trial, cutoff=None, subjects=None)` maps the rows of the reads app onto the
package dataclasses. Only cases whose results are final are included: every timepoint with a
scan date up to the cut-off has a final result by `adjudication.case_results` (the one rule for
final results), none is pending adjudication, and at least one follow-up is final. For those it
holds both readers' reads (the single read of a single-read design), with the accepted flag on
the read `case_results` names (the baseline follows the governing decision, else the design's
reported read), and the governing adjudication. Dates are the visit's scan date as the site
recorded it; --DY counts from the participant's treatment start. Images are the instances the
observations' measurements were drawn on. A constant number of queries, whatever the trial's size.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from imaging.models import Instance, Series
from reads import live
from reads.adjudication import case_results
from reads.choices import (
    AdjudicationState,
    LesionStatus,
    LesionType,
    ObservationKind,
    Paradigm,
    ReadTaskState,
    ResultSource,
)
from reads.models import Adjudication, Lesion, Observation, ReadCase, ReadDesign, ReadTask
from reads.package import model as pkg
from trials.models import Trial

__all__ = ["PackageSource", "evidence_header", "evidence_instances", "package_input"]


@dataclass
class PackageSource:
    """The package input and what the build needs besides it: the objects it was made from."""

    trial: pkg.Trial
    cases: list[ReadCase] = field(default_factory=list)
    tasks: list[ReadTask] = field(default_factory=list)  # the included (signed) tasks
    visits: dict[tuple[str, Decimal], Any] = field(default_factory=dict)  # (subject code, VISITNUM) -> Visit
    referenced: dict[tuple[str, Decimal], list[str]] = field(default_factory=dict)  # -> SOP instance UIDs measured
    adjudications: list[Adjudication] = field(default_factory=list)


def _visitnum(task: ReadTask) -> Decimal:
    return Decimal(task.visit.timepoint.order)


def _points(points: Any) -> list[pkg.Point]:
    return [(float(p[0]), float(p[1])) for p in points or []]


def _axes(lesion: Lesion, obs: Observation) -> dict[str, Any]:
    """Long and short axis (mm and 2-point polylines) of a measured observation."""
    m = obs.measurement
    if m is None:
        return {}
    points = _points(m.points)
    long_mm = None if m.length_mm is None else Decimal(m.length_mm)
    short_mm = None if m.short_axis_mm is None else Decimal(m.short_axis_mm)
    frozen = None if obs.diameter_mm is None else Decimal(obs.diameter_mm)
    if m.kind == "bidirectional" and len(points) >= 4:
        out: dict[str, Any] = {"long_axis_mm": long_mm, "long_axis": (points[0], points[1]),
                               "short_axis_mm": short_mm, "short_axis": (points[2], points[3])}
        if frozen is not None:
            out["short_axis_mm" if lesion.lymph_node else "long_axis_mm"] = frozen
    elif lesion.lymph_node:  # a line across a node is its short axis
        out = {"short_axis_mm": frozen if frozen is not None else long_mm, "short_axis": (points[0], points[1])}
    else:
        out = {"long_axis_mm": frozen if frozen is not None else long_mm, "long_axis": (points[0], points[1])}
    for axis in ("long", "short"):  # an axis without its length in mm is left out (points and mm go together)
        if out.get(f"{axis}_axis_mm") is None:
            out.pop(f"{axis}_axis_mm", None)
            out.pop(f"{axis}_axis", None)
    return out


def _image(obs: Observation) -> pkg.ImageRef | None:
    m = obs.measurement
    if m is None:
        return None
    instance = m.instance
    frame = m.frame + 1 if instance.number_of_frames > 1 else None
    return pkg.ImageRef(instance.series.study.study_uid, instance.series.series_uid, instance.sop_class_uid,
                        instance.sop_uid, frame)


def _status(lesion: Lesion, obs: Observation) -> pkg.ObservationStatus | None:
    if obs.kind == ObservationKind.DISAPPEARED:
        return pkg.ObservationStatus.DISAPPEARED
    if obs.kind == ObservationKind.TOO_SMALL:
        return pkg.ObservationStatus.TOO_SMALL
    if obs.kind == ObservationKind.NOT_EVALUABLE:
        return pkg.ObservationStatus.NOT_EVALUABLE
    if lesion.kind == LesionType.NEW:
        if obs.status == LesionStatus.ABSENT:
            return None  # a new lesion gone again: nothing the package model records
        return pkg.ObservationStatus(obs.status or LesionStatus.UNEQUIVOCAL)
    if obs.kind == ObservationKind.MEASURED:
        return pkg.ObservationStatus.MEASURED
    return pkg.ObservationStatus(obs.status) if obs.status else None


def _observation(lesion: Lesion, obs: Observation, visitnum: Decimal) -> pkg.Observation | None:
    status = _status(lesion, obs)
    if status is None:
        return None
    measurable = status is pkg.ObservationStatus.MEASURED or lesion.kind == LesionType.NEW
    axes = _axes(lesion, obs) if measurable and obs.measurement is not None else {}
    return pkg.Observation(lesion.tracking_uid or str(lesion.pk), visitnum, status, image=_image(obs) if axes else None,
                           reason=obs.reason if status is pkg.ObservationStatus.NOT_EVALUABLE else "", **axes)


def _result(task: ReadTask, visitnum: Decimal) -> pkg.TimepointResult:
    response = task.response or {}
    if task.sequence == 0:
        return pkg.TimepointResult(visitnum, response.get("sum_mm"), signed_at=task.signed_at)
    return pkg.TimepointResult(
        visitnum, response.get("sum_mm"), response.get("change_from_baseline_pct"),
        response.get("change_from_nadir_pct"), response.get("target"), response.get("non_target"),
        response.get("new_lesions"), response.get("overall"), task.signed_at,
    )


def _final_cases(trial: Trial, cases: list[ReadCase], tasks: list[ReadTask],
                 cutoff: dt.date | None) -> dict[int, dict[int, int]]:
    """case id -> {sequence: accepted slot} for the cases whose results are final up to the cut-off."""
    scan: dict[tuple[int, int], dt.date | None] = {(t.assignment.case_id, t.sequence): t.visit.scan_date for t in tasks}

    def within(case_id: int, sequence: int) -> bool:
        date = scan.get((case_id, sequence))
        return cutoff is None or (date is not None and date <= cutoff)

    rows: dict[int, dict[int, str | int | None]] = {}
    for row in case_results(trial=trial, cases=cases):
        if within(row.case.pk, row.timepoint_order):
            rows.setdefault(row.case.pk, {})[row.timepoint_order] = (
                None if row.source == ResultSource.PENDING else row.slot)
    final: dict[int, dict[int, int]] = {}
    for case_id, by_sequence in rows.items():
        if not within(case_id, 0) or any(slot is None for slot in by_sequence.values()):
            continue
        final[case_id] = {seq: int(slot) for seq, slot in by_sequence.items() if slot is not None}
    return final


def package_input(trial: Trial, *, cutoff: dt.date | None = None,
                  subjects: Iterable[str] | None = None) -> PackageSource:
    """The package input of `trial` (see the module docstring); an empty subject list when nothing is final."""
    design = ReadDesign.objects.filter(trial=trial).first()
    config = live.recist_config(design)
    cases = ReadCase.objects.filter(trial=trial).select_related("participant").order_by("participant__subject_code")
    wanted = None if subjects is None else set(subjects)
    if wanted is not None:
        cases = cases.filter(participant__subject_code__in=wanted)
    case_list = list(cases)
    if design is None or not case_list:
        return PackageSource(pkg.Trial(trial.code, (), config.too_small_mm))
    ids = [c.pk for c in case_list]
    tasks = list(ReadTask.objects.filter(assignment__case_id__in=ids)
                 .select_related("visit__timepoint", "assignment").order_by("assignment__case_id", "sequence"))
    final = _final_cases(trial, case_list, tasks, cutoff)
    single = design.paradigm == Paradigm.SINGLE
    decided = list(Adjudication.objects.filter(case_id__in=list(final), state=AdjudicationState.DECIDED)
                   .order_by("case_id", "round"))
    governing = {a.case_id: a for a in decided}  # the latest decided round per case
    included = [t for t in tasks if t.assignment.case_id in final and t.state == ReadTaskState.SIGNED
                and (t.sequence == 0 or t.sequence in final[t.assignment.case_id])
                and not (single and t.assignment.slot != 1)]
    task_ids = {t.pk for t in included}
    rank = {LesionType.TARGET: 0, LesionType.NON_TARGET: 1, LesionType.NEW: 2}
    lesions = sorted(Lesion.objects.filter(created_in_id__in=task_ids),
                     key=lambda les: (les.assignment_id, rank[LesionType(les.kind)], les.number))
    observations = list(Observation.objects.filter(task_id__in=task_ids, lesion__created_in_id__in=task_ids)
                        .select_related("measurement__instance__series__study").order_by("task_id", "lesion_id"))
    visit_ids = {t.visit_id for t in included}
    modalities: dict[int, str] = {}
    for visit_id, modality in (Series.objects.filter(study__visit_id__in=visit_ids).exclude(modality="")
                               .order_by("study__visit_id", "series_number", "id").values_list("study__visit_id", "modality")):
        modalities.setdefault(visit_id, modality)

    source = PackageSource(pkg.Trial(trial.code, (), config.too_small_mm), adjudications=list(governing.values()))
    subjects_out: list[pkg.Subject] = []
    for case in case_list:
        accepted_by_sequence = final.get(case.pk)
        if accepted_by_sequence is None:
            continue
        case_tasks = [t for t in included if t.assignment.case_id == case.pk]
        round_ = governing.get(case.pk)
        baseline_slot = (round_.selected if round_ is not None and round_.selected else
                         1 if single else design.reported_read)
        accepted_by_sequence = {0: int(baseline_slot), **accepted_by_sequence}
        code = case.participant.subject_code
        timepoints: dict[int, pkg.Timepoint] = {}
        for t in case_tasks:
            if t.sequence not in timepoints:
                visitnum = _visitnum(t)
                timepoints[t.sequence] = pkg.Timepoint(visitnum, t.visit.timepoint.label, t.visit.scan_date,
                                                       modalities.get(t.visit_id, "CT"))
                source.visits[(code, visitnum)] = t.visit
        labels = {tp.visit: tp.visitnum for tp in timepoints.values()}
        reads: list[pkg.Read] = []
        for slot in sorted({t.assignment.slot for t in case_tasks}):
            slot_tasks = [t for t in case_tasks if t.assignment.slot == slot]
            if {t.sequence for t in slot_tasks} != set(timepoints):
                continue  # never for final results: both reads are signed at every final timepoint
            assignment = slot_tasks[0].assignment
            by_task = {t.pk: t for t in slot_tasks}
            read_lesions = [les for les in lesions if les.assignment_id == assignment.pk]
            lesion_by_pk = {les.pk: les for les in read_lesions}
            observed: list[pkg.Observation] = []
            for obs in observations:
                task = by_task.get(obs.task_id)
                lesion = lesion_by_pk.get(obs.lesion_id)
                if task is None or lesion is None:
                    continue
                mapped = _observation(lesion, obs, _visitnum(task))
                if mapped is not None:
                    observed.append(mapped)
                    if mapped.image is not None:
                        source.referenced.setdefault((code, mapped.visitnum), []).append(mapped.image.sop_instance_uid)
            last = (slot_tasks[-1].response or {}) if slot_tasks else {}
            progression = last.get("progression_timepoint")
            reads.append(pkg.Read(
                slot,
                tuple(pkg.Lesion(les.tracking_uid or str(les.pk), les.label, pkg.LesionKind(les.kind), les.organ,
                                 les.location, les.lymph_node, uid=les.tracking_uid) for les in read_lesions),
                tuple(observed),
                tuple(_result(t, _visitnum(t)) for t in slot_tasks),
                frozenset(_visitnum(t) for t in slot_tasks if accepted_by_sequence.get(t.sequence) == slot),
                last.get("best_response"),
                labels.get(progression) if progression else None,
            ))
            source.tasks.extend(slot_tasks)
        if not reads:
            continue
        adjudication = None
        if round_ is not None and round_.selected and len(reads) == 2:
            covered = [tp.visitnum for seq, tp in timepoints.items() if seq <= round_.up_to]
            if covered:
                adjudication = pkg.Adjudication(round_.selected, max(covered), round_.reason_code)
        subjects_out.append(pkg.Subject(code, case.participant.treatment_start_date,
                                        tuple(timepoints[s] for s in sorted(timepoints)), tuple(reads), adjudication))
        source.cases.append(case)
    source.trial = pkg.Trial(trial.code, tuple(subjects_out), config.too_small_mm)
    return source


def evidence_instances(source: PackageSource) -> dict[tuple[str, Decimal], list[Instance]]:
    """The instances whose headers each SR needs: those measured, or the visit's first one (one query)."""
    visit_ids = {v.pk for v in source.visits.values()}
    instances = list(Instance.objects.filter(series__study__visit_id__in=visit_ids)
                     .select_related("series__study").order_by("series__study__visit_id", "series__series_number",
                                                                "instance_number", "id"))
    out: dict[tuple[str, Decimal], list[Instance]] = {}
    for key, visit in source.visits.items():
        mine = [i for i in instances if i.series.study.visit_id == visit.pk]
        uids = set(source.referenced.get(key, []))
        chosen = [i for i in mine if i.sop_uid in uids] or mine[:1]
        out[key] = chosen
    return out


# Type 2 attributes of the patient and study modules the SR copies from its evidence: de-identification
# may have removed them, so they are added empty (present, no value) as the standard allows.
_TYPE_2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
           "ReferringPhysicianName", "StudyID", "AccessionNumber")


def evidence_header(instance: Instance) -> Any:
    """The stored de-identified instance's header (no pixel data) as the SR's evidence."""
    from django.core.files.storage import default_storage
    from pydicom import dcmread

    with default_storage.open(instance.storage_key, "rb") as fh:
        ds = dcmread(fh, stop_before_pixels=True)
    for keyword in _TYPE_2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds
