"""One reader's read of one case, loaded once and handed to the RECIST 1.1 engine (reads.md).

`load_read` fetches the tasks, lesions and observations of an assignment in a fixed number of
queries; `evaluate` builds the engine's Baseline and FollowUps from them up to one task and
returns the live result the reading panel shows (sums, changes, responses, explanation) and
what still stops the task from being signed. The engine is the only source of responses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reads.choices import LesionStatus, LesionType, ObservationKind, ReadTaskState
from reads.models import Lesion, Observation, ReadAssignment, ReadDesign, ReadTask
from reads.recist import (
    TOO_SMALL,
    AdjudicationTrigger,
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetLesion,
    NonTargetStatus,
    RecistConfig,
    TargetLesion,
    assess_participant,
    explain_non_target_response,
    explain_overall_response,
    explain_target_response,
    timepoint_entry_completeness,
)
from reads.recist.numbers import json_number, json_percent
from reads.recist.validation import RecistValidationError

NON_TARGET_STATUS = {
    LesionStatus.PRESENT: NonTargetStatus.PRESENT,
    LesionStatus.ABSENT: NonTargetStatus.ABSENT,
    LesionStatus.UNEQUIVOCAL_PROGRESSION: NonTargetStatus.UNEQUIVOCAL_PD,
    LesionStatus.NOT_EVALUABLE: NonTargetStatus.NOT_EVALUATED,
}
TRIGGERS = {
    "best_response": AdjudicationTrigger.BEST_OVERALL_RESPONSE, "progression": AdjudicationTrigger.PROGRESSION,
    "first_response": AdjudicationTrigger.FIRST_RESPONSE, "overall_response": AdjudicationTrigger.TIMEPOINT_RESPONSE,
}


def recist_config(design: ReadDesign | None) -> RecistConfig:
    """The engine's charter options from the trial's read design."""
    if design is None:
        return RecistConfig()
    return RecistConfig(
        confirmation_required=design.confirmation_required,
        confirmation_min_weeks=Decimal(design.confirmation_min_weeks),
        sd_min_weeks=Decimal(design.sd_min_weeks), visit_window_weeks=Decimal(design.visit_window_weeks),
        adjudication_triggers=frozenset(TRIGGERS[t] for t in design.triggers if t in TRIGGERS),
    )


@dataclass
class Read:
    """Everything of one reader's read of one case."""

    assignment: ReadAssignment
    tasks: list[ReadTask]  # in reading order
    lesions: list[Lesion]
    observations: dict[tuple[int, int], Observation] = field(default_factory=dict)  # (lesion, task) -> observation

    def observation(self, lesion: Lesion, task: ReadTask) -> Observation | None:
        return self.observations.get((lesion.pk, task.pk))

    def lesions_at(self, task: ReadTask) -> list[Lesion]:
        """Lesions that exist at `task`: the baseline's, and new ones recorded at or before it."""
        order = {t.pk: t.sequence for t in self.tasks}
        return [lesion for lesion in self.lesions if order.get(lesion.created_in_id, 0) <= task.sequence]


def load_read(assignment: ReadAssignment) -> Read:
    """The read of `assignment` in three queries."""
    tasks = list(assignment.tasks.select_related("visit__timepoint").order_by("sequence"))
    rank = {LesionType.TARGET: 0, LesionType.NON_TARGET: 1, LesionType.NEW: 2}
    lesions = sorted(Lesion.objects.filter(assignment=assignment), key=lambda les: (rank[LesionType(les.kind)], les.number))
    observations = Observation.objects.filter(task__assignment=assignment).select_related("measurement__instance")
    return Read(assignment, tasks, lesions, {(o.lesion_id, o.task_id): o for o in observations})


def diameter(lesion: Lesion, observation: Observation | None) -> Decimal | None:
    """The diameter the observation stands for: the frozen value once signed, else the measurement's
    long axis (short axis for lymph nodes: a bidirectional's short axis, or a line across it)."""
    if observation is None:
        return None
    if observation.kind == ObservationKind.DISAPPEARED:
        return Decimal(0)
    if observation.kind != ObservationKind.MEASURED:
        return None
    if observation.diameter_mm is not None:
        return Decimal(observation.diameter_mm)
    return measurement_diameter(lesion, observation.measurement)


def measurement_diameter(lesion: Lesion, measurement: Any) -> Decimal | None:
    if measurement is None:
        return None
    node_short_axis = lesion.lymph_node and measurement.kind == "bidirectional"
    value = measurement.short_axis_mm if node_short_axis else measurement.length_mm
    return None if value is None else Decimal(value)


def slice_thickness(observation: Observation | None) -> Decimal | None:
    instance = getattr(getattr(observation, "measurement", None), "instance", None)
    value = getattr(instance, "slice_thickness", None)
    return None if value is None else Decimal(str(value))


def _weeks(task: ReadTask, baseline: ReadTask) -> Decimal:
    if task.days_since_baseline is not None:
        return Decimal(task.days_since_baseline) / 7
    nominal, base = task.visit.timepoint.nominal_day, baseline.visit.timepoint.nominal_day
    return Decimal((nominal or 0) - (base or 0)) / 7


def _baseline(read: Read) -> Baseline:
    base = read.tasks[0]
    targets, non_targets = [], []
    for lesion in read.lesions:
        if lesion.kind == LesionType.TARGET:
            obs = read.observation(lesion, base)
            value = diameter(lesion, obs)
            if value is not None:
                targets.append(TargetLesion(lesion.label, lesion.organ, lesion.lymph_node, value, slice_thickness(obs)))
        elif lesion.kind == LesionType.NON_TARGET:
            non_targets.append(NonTargetLesion(lesion.label, lesion.organ, lesion.lymph_node))
    return Baseline(tuple(targets), tuple(non_targets))


def new_lesion_answer(read: Read, task: ReadTask) -> NewLesions | None:
    """The engine's new-lesion status of a follow-up, or None while the question is unanswered."""
    statuses = [o.status for lesion in read.lesions_at(task) if lesion.kind == LesionType.NEW
                if (o := read.observation(lesion, task)) is not None]
    if LesionStatus.UNEQUIVOCAL in statuses:
        return NewLesions.YES
    if LesionStatus.EQUIVOCAL in statuses:
        return NewLesions.EQUIVOCAL
    created_here = any(lesion.created_in_id == task.pk and lesion.kind == LesionType.NEW for lesion in read.lesions)
    return NewLesions.NO if task.new_lesions_none or created_here or statuses else None


def _followup(read: Read, task: ReadTask) -> FollowUp:
    targets: dict[str, Any] = {}
    non_targets: dict[str, NonTargetStatus] = {}
    not_done = task.state == ReadTaskState.NOT_DONE
    for lesion in read.lesions_at(task):
        obs = None if not_done else read.observation(lesion, task)
        if lesion.kind == LesionType.TARGET:
            if not_done or obs is not None:
                value: Any = None
                if obs is not None and obs.kind == ObservationKind.TOO_SMALL:
                    value = TOO_SMALL
                elif obs is not None:
                    value = diameter(lesion, obs)
                targets[lesion.label] = value
        elif lesion.kind == LesionType.NON_TARGET:
            if not_done:
                non_targets[lesion.label] = NonTargetStatus.NOT_EVALUATED
            elif obs is not None and obs.status in NON_TARGET_STATUS:
                non_targets[lesion.label] = NON_TARGET_STATUS[LesionStatus(obs.status)]
    answer = NewLesions.NO if not_done else (new_lesion_answer(read, task) or NewLesions.NO)
    return FollowUp(weeks=_weeks(task, read.tasks[0]), targets=targets, non_targets=non_targets, new_lesions=answer)


def missing(read: Read, task: ReadTask) -> list[dict[str, Any]]:
    """What stops `task` from being signed: [{"lesion": id or None, "message": ...}]."""
    out: list[dict[str, Any]] = []
    lesions = read.lesions_at(task)
    if task.sequence == 0:
        if not lesions:
            out.append({"lesion": None, "message": "Record at least one target or non-target lesion."})
        for lesion in lesions:
            if lesion.kind == LesionType.TARGET and read.observation(lesion, task) is None:
                out.append({"lesion": lesion.pk, "message": f"{lesion.label}: measure it on this timepoint's images."})
        return out
    for lesion in lesions:
        obs = read.observation(lesion, task)
        if obs is not None:
            continue
        what = {LesionType.TARGET: "measure it, or mark it disappeared, too small or not evaluable",
                LesionType.NON_TARGET: "give its status",
                LesionType.NEW: "say whether it is still equivocal, unequivocal or absent"}[LesionType(lesion.kind)]
        out.append({"lesion": lesion.pk, "message": f"{lesion.label}: {what}."})
    if new_lesion_answer(read, task) is None:
        out.append({"lesion": None, "message": "New lesions: answer the question (none, or record them)."})
    return out


def _entry(read: Read, task: ReadTask) -> dict[str, Any]:
    """The follow-up as a case-file entry, for the engine's own completeness check."""
    followup = _followup(read, task)
    targets = {k: ("TOO_SMALL" if v is TOO_SMALL else (None if v is None else json_number(v)))
               for k, v in followup.targets.items()}
    answer = new_lesion_answer(read, task)
    return {"targets": targets, "non_targets": {k: str(v) for k, v in followup.non_targets.items()},
            "new_lesions": None if answer is None else str(answer)}


def engine_missing(read: Read, task: ReadTask) -> list[str]:
    """The engine's entry completeness of a follow-up (problems and missing entries)."""
    if task.sequence == 0:
        return []
    completeness = timepoint_entry_completeness(_baseline(read), _entry(read, task))
    return [*completeness.missing, *completeness.problems]


def evaluate(read: Read, task: ReadTask, config: RecistConfig) -> dict[str, Any]:
    """The engine's result at `task` (api.md `response`), from the baseline and the follow-ups up to it."""
    baseline = _baseline(read)
    base_sum = sum((t.diameter_mm for t in baseline.targets), Decimal(0)) if baseline.targets else None
    result: dict[str, Any] = {
        "sum_mm": None if base_sum is None else json_number(base_sum), "baseline_sum_mm": None,
        "nadir_mm": None, "change_from_baseline_pct": None, "change_from_nadir_pct": None, "target": None,
        "non_target": None, "new_lesions": None, "overall": None, "best_response": None, "explanation": "",
        "pending": False,
    }
    if task.sequence == 0:
        result["baseline_sum_mm"] = result["sum_mm"]
        result["explanation"] = ("Baseline: " + (f"sum of diameters {result['sum_mm']} mm over {len(baseline.targets)} "
                                                 "target(s)." if baseline.targets else "no measured target yet."))
        return result
    followups = [t for t in read.tasks if 0 < t.sequence <= task.sequence and t.state != ReadTaskState.NOT_REQUIRED]
    if new_lesion_answer(read, task) is None:
        result.update(pending=True, explanation="Pending: the new-lesion question is not answered yet.")
    try:
        assessment = assess_participant(baseline, [_followup(read, t) for t in followups], config)
    except RecistValidationError as exc:
        result.update(pending=True, explanation="Pending: " + "; ".join(i.message for i in exc.issues))
        return result
    if not assessment.timepoints:
        return result
    tp = assessment.timepoints[-1]
    result.update(
        sum_mm=None if tp.sum_mm is None else json_number(tp.sum_mm),
        baseline_sum_mm=None if tp.baseline_sum_mm is None else json_number(tp.baseline_sum_mm),
        nadir_mm=None if tp.nadir_mm is None else json_number(tp.nadir_mm),
        change_from_baseline_pct=json_percent(tp.pct_change_from_baseline),
        change_from_nadir_pct=json_percent(tp.pct_change_from_nadir),
        target=str(tp.target_response), non_target=str(tp.non_target_response), new_lesions=str(tp.new_lesions),
        best_response=str(assessment.best_overall_response),
        progression_timepoint=(None if assessment.progression_index is None
                               else followups[assessment.progression_index].visit.timepoint.label),
    )
    if not result["pending"]:
        result["overall"] = str(tp.overall_response)
        result["explanation"] = " ".join(
            part for part in (explain_target_response(tp), explain_non_target_response(tp),
                              explain_overall_response(tp)) if part)
    return result


def signed_content(read: Read, task: ReadTask, response: dict[str, Any]) -> dict[str, Any]:
    """The canonical content a signature covers: lesions, this timepoint's observations, responses."""
    lesions = []
    for lesion in read.lesions_at(task):
        obs = read.observation(lesion, task)
        entry: dict[str, Any] = {
            "label": lesion.label, "kind": lesion.kind, "organ": lesion.organ, "location": lesion.location,
            "lymph_node": lesion.lymph_node, "tracking_uid": lesion.tracking_uid, "observation": None,
        }
        if obs is not None:
            m = obs.measurement
            value = diameter(lesion, obs)
            entry["observation"] = {
                "kind": obs.kind, "status": obs.status, "reason": obs.reason,
                "diameter_mm": None if value is None else str(value),
                "measurement": None if m is None else {
                    "sop_instance_uid": m.instance.sop_uid, "frame": m.frame, "kind": m.kind, "points": m.points},
            }
        lesions.append(entry)
    return {"task": task.pk, "case": read.assignment.case.code, "slot": read.assignment.slot,
            "timepoint": task.visit.timepoint.code, "new_lesions_none": task.new_lesions_none,
            "lesions": lesions, "response": response}


def assess_read(read: Read, up_to: int, config: RecistConfig) -> Any:
    """The engine's assessment of the read over its follow-ups up to reading position `up_to`
    (None when the entries break a rule, which signed reads never do)."""
    followups = [t for t in read.tasks if 0 < t.sequence <= up_to and t.state != ReadTaskState.NOT_REQUIRED]
    try:
        return assess_participant(_baseline(read), [_followup(read, t) for t in followups], config)
    except RecistValidationError:
        return None
