"""Reading a timepoint (reads.md "Reading a timepoint"): lesions, observations, signing, re-opening.

Every function takes the acting user, checks their right (a reader works only on their own
tasks; re-opening and missed timepoints are the trial admin's), changes state in one transaction
(task states through READ_TASK_MACHINE) and writes the audit event with before/after. The RECIST
engine (reads.live) is the only source of responses; a signed task is locked (409 on any change).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from pydicom.uid import generate_uid

from audit.actions import AuditAction
from audit.services import audit_record, diff, snapshot
from audit.transitions import transition
from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from ictms.lib.history import stamp
from imaging.models import Measurement
from reads import live, selectors
from reads.adjudication import adjudication_evaluate, adjudications_void, visits_read_check
from reads.choices import (
    LABEL_PREFIX,
    NEW_LESION_STATUSES,
    NON_TARGET_STATUSES,
    ORGANS,
    READ_TASK_MACHINE,
    REOPEN_MACHINE,
    SETTLED_TASK_STATES,
    SIGNATURE_MEANING,
    LesionType,
    ObservationKind,
    QualityQueryState,
    ReadTaskState,
    ReopenState,
)
from reads.models import Lesion, Observation, ReadDesign, ReadTask, ReopenRequest, Signature
from reads.recist import MeasurementMethod, TargetLesion, classify_baseline_finding, reasons_target_cannot_be_added
from reads.services import _refresh
from reads.signing import content_sha256, password_ok
from trials.choices import VisitState
from trials.services import require_trial_perm, visit_transition

# Stands for a target's diameter where only the selection limits are checked (measurability is
# checked when its measurement is recorded).
UNMEASURED = Decimal(999)
LESION_FIELDS = ("kind", "label", "organ", "location", "lymph_node")
OBSERVATION_FIELDS = ("kind", "measurement", "diameter_mm", "status", "reason")


class IncompleteRead(DomainError):
    """The read cannot be signed yet (409 with what is missing)."""

    def __init__(self, missing: list[dict[str, Any]]) -> None:
        super().__init__("The read is not complete: " + " ".join(m["message"] for m in missing))
        self.missing = missing


# --- the reader's own task --------------------------------------------------------------------------

def _locked_task(actor: User, task: ReadTask) -> ReadTask:
    """The caller's own task, locked for the change (404 for anyone else's)."""
    selectors.read_task_get_for_user(user=actor, pk=task.pk)
    return (ReadTask.objects.select_for_update(of=("self",))
            .select_related("assignment__case__trial", "visit__timepoint").get(pk=task.pk))


def _refusal(task: ReadTask) -> str:
    if task.state == ReadTaskState.SIGNED:
        return "This timepoint is signed and locked: the trial admin must re-open it before anything changes."
    if task.state == ReadTaskState.WAITING:
        return "This timepoint is not open yet: sign the earlier timepoints of this case first."
    if task.state in (ReadTaskState.NOT_DONE, ReadTaskState.NOT_REQUIRED):
        return f"This timepoint is {task.get_state_display().lower()}: nothing is read here."
    return ""


def _start(actor: User, task: ReadTask) -> ReadTask:
    if task.state == ReadTaskState.READY:
        transition(READ_TASK_MACHINE, task, ReadTaskState.IN_PROGRESS, actor=actor, trial=task.assignment.case.trial,
                   action=AuditAction.READ_TASK_START, bookkeeping={"started_at": task.started_at or timezone.now()},
                   data={"case": task.assignment.case.code, "timepoint": task.visit.timepoint.code})
    return task


def _entry_task(actor: User, task: ReadTask) -> ReadTask:
    """The caller's task, open for entries (a ready task starts on the first entry)."""
    task = _locked_task(actor, task)
    refusal = _refusal(task)
    if refusal:
        raise DomainError(refusal)
    return _start(actor, task)


@transaction.atomic
def read_task_start(*, actor: User, task: ReadTask) -> ReadTask:
    """Open a ready task for reading (records when the read started)."""
    return _entry_task(actor, task)


def _trial(task: ReadTask) -> Any:
    return task.assignment.case.trial


# --- lesions -------------------------------------------------------------------------------------------

def _targets(read: live.Read) -> list[TargetLesion]:
    base = read.tasks[0]
    out = []
    for lesion in read.lesions:
        if lesion.kind == LesionType.TARGET:
            value = live.diameter(lesion, read.observation(lesion, base))
            # A target not measured yet counts for the limits (5, 2 per organ) only.
            out.append(TargetLesion(lesion.label, lesion.organ, lesion.lymph_node,
                                    value if value is not None else UNMEASURED))
    return out


@transaction.atomic
def lesion_add(
    *, actor: User, task: ReadTask, kind: str, organ: str, location: str = "", lymph_node: bool = False,
    measurement: Measurement | None = None, status: str = "",
) -> Lesion:
    """Add a lesion to the reader's read: a target or non-target at baseline, a new lesion at a follow-up.

    The baseline selection rules refuse here with the engine's reason (a sixth target, a third
    in one organ); measurability is checked when the target's measurement is recorded (passed
    here or later through `observation_record`). A new lesion needs its status (equivocal or
    unequivocal) and may carry a measurement.
    """
    task = _entry_task(actor, task)
    if kind not in LesionType.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(LesionType.values)}."})
    organ = (organ or "").strip().lower()
    if organ not in ORGANS:
        raise ValidationError({"organ": f"Choose an organ from the list: {', '.join(ORGANS)}."})
    lymph_node = bool(lymph_node) or organ == "lymph node"
    baseline = task.sequence == 0
    if kind in (LesionType.TARGET, LesionType.NON_TARGET) and not baseline:
        raise ValidationError({"kind": "Targets and non-targets are chosen at baseline; at a follow-up, record a "
                                       "new lesion."})
    if kind == LesionType.NEW and baseline:
        raise ValidationError({"kind": "New lesions are recorded at follow-ups; at baseline, choose targets and "
                                       "non-targets."})
    if kind == LesionType.NEW and status not in (s.value for s in NEW_LESION_STATUSES[:2]):
        raise ValidationError({"status": "Say whether the new lesion is equivocal or unequivocal."})
    read = live.load_read(task.assignment)
    if kind == LesionType.TARGET:
        selection = _targets(read)
        candidate = TargetLesion(f"T{len(selection) + 1}", organ, lymph_node, UNMEASURED)
        reasons = reasons_target_cannot_be_added(candidate, selection)
        if reasons:
            text = "; ".join(reasons)
            raise ValidationError({"kind": text[:1].upper() + text[1:] + "."})
    numbers = [les.number for les in read.lesions if les.kind == kind]
    number = max(numbers, default=0) + 1
    lesion = Lesion(assignment=task.assignment, created_in=task, kind=kind, number=number,
                    label=f"{LABEL_PREFIX[LesionType(kind)]}{number}", organ=organ, location=(location or "").strip(),
                    lymph_node=lymph_node, tracking_uid=generate_uid(prefix=None))
    lesion.full_clean()
    stamp(lesion, actor)
    lesion.save()
    audit_record(actor=actor, action=AuditAction.LESION_ADD, target=lesion, trial=_trial(task),
                 changes=diff({}, snapshot(lesion, LESION_FIELDS)),
                 data={"case": task.assignment.case.code, "timepoint": task.visit.timepoint.code})
    if kind == LesionType.NEW and task.new_lesions_none:
        task.new_lesions_none = False
        stamp(task, actor, "new lesion recorded")
        task.save(update_fields=["new_lesions_none"])
    if measurement is not None or kind == LesionType.NEW:
        _record(actor, task, lesion, measurement=measurement, status=status)
    return lesion


@transaction.atomic
def lesion_remove(*, actor: User, task: ReadTask, lesion: Lesion) -> None:
    """Remove a lesion added at this (unsigned) timepoint, with its observations."""
    task = _entry_task(actor, task)
    lesion = _lesion_of(task, lesion)
    if lesion.created_in_id != task.pk:
        raise DomainError(f"{lesion.label} was recorded at an earlier timepoint: it can only be removed there.")
    others = lesion.observations.exclude(task=task)
    if others.exists():
        raise DomainError(f"{lesion.label} is recorded at later timepoints too: remove it there first.")
    before = snapshot(lesion, LESION_FIELDS)
    for obs in lesion.observations.all():
        stamp(obs, actor, "lesion removed")
        obs.delete()
    stamp(lesion, actor, "removed")
    audit_record(actor=actor, action=AuditAction.LESION_REMOVE, target=lesion, trial=_trial(task),
                 changes=diff(before, {}), data={"case": task.assignment.case.code})
    lesion.delete()


def _lesion_of(task: ReadTask, lesion: Lesion | int) -> Lesion:
    pk = lesion if isinstance(lesion, int) else lesion.pk
    found = Lesion.objects.filter(pk=pk, assignment_id=task.assignment_id).first()
    if found is None:
        raise NotFoundError("No such lesion in this read.")
    return found


# --- observations ---------------------------------------------------------------------------------------

def _measurement_of(actor: User, task: ReadTask, lesion: Lesion, measurement: Measurement | int) -> Measurement:
    """A measurement the reader took on this timepoint's images (400 otherwise)."""
    pk = measurement if isinstance(measurement, int) else measurement.pk
    found = (Measurement.objects.select_related("instance__series__study").filter(pk=pk, is_deleted=False).first())
    if found is None or found.created_by_id != actor.pk:
        raise ValidationError({"measurement": "Use a measurement you took in the viewer on this timepoint's images."})
    if found.instance.series.study.visit_id != task.visit_id:
        raise ValidationError({"measurement": "That measurement is on another timepoint's images: measure this "
                                              "timepoint's images."})
    if found.length_mm is None:
        raise ValidationError({"measurement": "That measurement has no length in mm (the image has no pixel "
                                              "spacing): it cannot give a diameter."})
    used = Observation.objects.filter(measurement=found).exclude(lesion=lesion, task=task).select_related("lesion").first()
    if used is not None:
        raise ValidationError({"measurement": f"That measurement is already the observation of {used.lesion.label}."})
    return found


def _record(
    actor: User, task: ReadTask, lesion: Lesion, *, measurement: Measurement | int | None = None,
    disappeared: bool = False, too_small: bool = False, not_evaluable: str | None = None, status: str = "",
) -> Observation:
    chosen = [name for name, given in (("measurement", measurement is not None), ("disappeared", disappeared),
                                        ("too_small", too_small), ("not_evaluable", not_evaluable is not None))
              if given]
    baseline = task.sequence == 0
    values: dict[str, Any] = {"measurement": None, "diameter_mm": None, "status": "", "reason": ""}
    if lesion.kind == LesionType.TARGET:
        if status or len(chosen) != 1:
            raise ValidationError({"lesion": f"{lesion.label} is a target: give exactly one of a measurement, "
                                             "disappeared, too small or not evaluable."})
        if baseline and chosen != ["measurement"]:
            raise ValidationError({"measurement": f"{lesion.label}: a baseline target is measured on the image."})
        if disappeared and lesion.lymph_node:
            raise ValidationError({"disappeared": f"{lesion.label} is a lymph node: nodes are always measured (below "
                                                  "10 mm short axis a node counts as normal)."})
        if measurement is not None:
            found = _measurement_of(actor, task, lesion, measurement)
            value = live.measurement_diameter(lesion, found)
            if baseline:
                finding = classify_baseline_finding(
                    is_node=lesion.lymph_node, diameter_mm=value, method=MeasurementMethod.CT,
                    slice_thickness_mm=None if found.instance.slice_thickness is None
                    else Decimal(str(found.instance.slice_thickness)))
                if not finding.may_be_target:
                    raise ValidationError({"measurement": f"{lesion.label} cannot be a target: {finding.reason}."})
            values.update(kind=ObservationKind.MEASURED, measurement=found)
        elif disappeared:
            values.update(kind=ObservationKind.DISAPPEARED, diameter_mm=Decimal(0))
        elif too_small:
            values.update(kind=ObservationKind.TOO_SMALL)
        else:
            reason = (not_evaluable or "").strip()
            if not reason:
                raise ValidationError({"not_evaluable": "Say why the lesion is not evaluable."})
            values.update(kind=ObservationKind.NOT_EVALUABLE, reason=reason)
    elif lesion.kind == LesionType.NON_TARGET:
        if baseline:
            raise ValidationError({"lesion": f"{lesion.label}: non-targets are listed at baseline and given a status "
                                             "at each follow-up."})
        if chosen or status not in (s.value for s in NON_TARGET_STATUSES):
            raise ValidationError({"status": f"{lesion.label} is a non-target: give its status (present, absent, "
                                             "unequivocal_progression or not_evaluable)."})
        values.update(kind=ObservationKind.STATUS, status=status)
    else:
        if status not in (s.value for s in NEW_LESION_STATUSES) or chosen not in ([], ["measurement"]):
            raise ValidationError({"status": f"{lesion.label} is a new lesion: give its status (equivocal, "
                                             "unequivocal or absent), optionally with a measurement."})
        found_m = None if measurement is None else _measurement_of(actor, task, lesion, measurement)
        values.update(kind=ObservationKind.STATUS, status=status, measurement=found_m)
    obs = Observation.objects.filter(lesion=lesion, task=task).first()
    before = {} if obs is None else snapshot(obs, OBSERVATION_FIELDS)
    if obs is None:
        obs = Observation(lesion=lesion, task=task)
    for name, value in values.items():
        setattr(obs, name, value)
    obs.full_clean()
    stamp(obs, actor)
    obs.save()
    audit_record(actor=actor, action=AuditAction.OBSERVATION_RECORD, target=obs, trial=_trial(task),
                 changes=diff(before, snapshot(obs, OBSERVATION_FIELDS)),
                 data={"case": task.assignment.case.code, "lesion": lesion.label, "timepoint": task.visit.timepoint.code})
    return obs


@transaction.atomic
def observation_record(
    *, actor: User, task: ReadTask, lesion: Lesion | int, measurement: Measurement | int | None = None,
    disappeared: bool = False, too_small: bool = False, not_evaluable: str | None = None, status: str = "",
) -> Observation:
    """Record (or replace, until signing) what the reader saw of one lesion at this timepoint."""
    task = _entry_task(actor, task)
    found = _lesion_of(task, lesion)
    read = live.load_read(task.assignment)
    if found.pk not in {les.pk for les in read.lesions_at(task)}:
        raise ValidationError({"lesion": f"{found.label} was recorded after this timepoint."})
    return _record(actor, task, found, measurement=measurement, disappeared=disappeared, too_small=too_small,
                   not_evaluable=not_evaluable, status=status)


@transaction.atomic
def observation_remove(*, actor: User, task: ReadTask, lesion: Lesion | int) -> None:
    task = _entry_task(actor, task)
    found = _lesion_of(task, lesion)
    obs = Observation.objects.filter(lesion=found, task=task).first()
    if obs is None:
        raise NotFoundError(f"{found.label} has no observation at this timepoint.")
    before = snapshot(obs, OBSERVATION_FIELDS)
    stamp(obs, actor, "removed")
    audit_record(actor=actor, action=AuditAction.OBSERVATION_REMOVE, target=obs, trial=_trial(task),
                 changes=diff(before, {}), data={"lesion": found.label})
    obs.delete()


@transaction.atomic
def new_lesions_none_set(*, actor: User, task: ReadTask, none: bool = True) -> ReadTask:
    """Answer a follow-up's new-lesion question with "none" (or take that answer back)."""
    task = _entry_task(actor, task)
    if task.sequence == 0:
        raise ValidationError({"new_lesions": "The new-lesion question is asked at follow-ups, not at baseline."})
    if none and Lesion.objects.filter(created_in=task, kind=LesionType.NEW).exists():
        raise ValidationError({"new_lesions": "New lesions are recorded at this timepoint: remove them before "
                                              "answering 'none'."})
    if task.new_lesions_none != none:
        before = task.new_lesions_none
        task.new_lesions_none = none
        stamp(task, actor)
        task.save(update_fields=["new_lesions_none"])
        audit_record(actor=actor, action=AuditAction.READ_TASK_NEW_LESIONS, target=task, trial=_trial(task),
                     changes={"new_lesions_none": [before, none]})
    return task


# --- the live result ------------------------------------------------------------------------------------------

def task_result(*, task: ReadTask, read: live.Read | None = None) -> dict[str, Any]:
    """The engine's result at `task` and what blocks signing (the stored result once signed)."""
    read = read or live.load_read(task.assignment)
    task = next((t for t in read.tasks if t.pk == task.pk), task)  # the read's fresh copy
    if task.state == ReadTaskState.SIGNED and task.response is not None:
        return {"response": task.response, "missing": []}
    design = ReadDesign.objects.filter(trial_id=task.assignment.case.trial_id).first()
    waiting_for_qc = [{"lesion": None, "message": "Your image-quality query to QC is not answered yet."}
                      for _query in task.quality_queries.filter(state=QualityQueryState.OPEN)]
    return {"response": live.evaluate(read, task, live.recist_config(design)),
            "missing": live.missing(read, task) + waiting_for_qc}


# --- signing -----------------------------------------------------------------------------------------------------

def read_task_sign(
    *, actor: User, task: ReadTask, password: str, meaning: str = SIGNATURE_MEANING, request: HttpRequest | None = None,
) -> Signature:
    """Sign a timepoint (21 CFR Part 11): re-entered password, printed name, UTC time, meaning, content hash.

    A wrong password answers 403, is audited and counts toward the account lockout; an incomplete
    read answers 409 with what is missing; a signed task answers 409 and nothing changes.
    """
    task = selectors.read_task_get_for_user(user=actor, pk=task.pk)
    if task.state == ReadTaskState.SIGNED:
        raise DomainError("This timepoint is already signed.")
    if not password_ok(actor, password, request):
        audit_record(actor=actor, action=AuditAction.READ_TASK_SIGN_FAILED, target=task, trial=_trial(task),
                     reason="wrong password")
        raise PermissionDeniedError("Wrong password: the timepoint is not signed.")
    with transaction.atomic():
        task = _entry_task(actor, task)
        read = live.load_read(task.assignment)
        result = task_result(task=task, read=read)
        blocking = result["missing"] + [{"lesion": None, "message": m} for m in live.engine_missing(read, task)]
        if not blocking and result["response"].get("pending"):
            blocking = [{"lesion": None, "message": result["response"]["explanation"]}]
        if blocking:
            raise IncompleteRead(blocking)
        for obs in task.observations.select_related("measurement", "lesion"):
            if obs.kind == ObservationKind.MEASURED and obs.diameter_mm is None:
                obs.diameter_mm = live.measurement_diameter(obs.lesion, obs.measurement)
                stamp(obs, actor, "frozen at signing")
                obs.save(update_fields=["diameter_mm"])
        read = live.load_read(task.assignment)
        content = live.signed_content(read, task, result["response"])
        now = timezone.now()
        signature = Signature(task=task, signer=actor, printed_name=actor.get_full_name() or actor.get_username(),
                              meaning=(meaning or SIGNATURE_MEANING).strip()[:200], signed_at=now,
                              content=content, content_sha256=content_sha256(content))
        stamp(signature, actor)
        signature.save()
        active = int((now - task.started_at).total_seconds()) if task.started_at else 0
        transition(READ_TASK_MACHINE, task, ReadTaskState.SIGNED, actor=actor, trial=_trial(task),
                   action=AuditAction.READ_TASK_SIGN, fields={"response": result["response"]},
                   bookkeeping={"signed_at": now, "active_seconds": active},
                   data={"sha256": signature.content_sha256, "meaning": signature.meaning,
                         "printed_name": signature.printed_name})
        _after_sign(actor, task, result["response"])
    return signature


def _after_sign(actor: User, task: ReadTask, response: dict[str, Any]) -> None:
    design = ReadDesign.objects.filter(trial_id=task.assignment.case.trial_id).first()
    if design is not None and design.stop_after_progression and response.get("overall") == "PD":
        for later in task.assignment.tasks.filter(sequence__gt=task.sequence).exclude(state__in=SETTLED_TASK_STATES):
            transition(READ_TASK_MACHINE, later, ReadTaskState.NOT_REQUIRED, actor=actor, trial=_trial(task),
                       reason="Progression: the charter stops reading this case.")
    _refresh(actor, task.assignment, reason="")
    adjudication_evaluate(actor=actor, case=task.assignment.case)
    visits_read_check(actor, task.assignment.case)


# --- re-opening and missed timepoints (trial admin) -------------------------------------------------------------

def _admin_task(actor: User, task: ReadTask) -> ReadTask:
    """A task named by a trial admin action: 403 for its own reader, 404 for everyone else who is not an admin."""
    found = ReadTask.objects.select_related("assignment__case__trial", "visit__timepoint").filter(pk=task.pk).first()
    if found is not None and found.assignment.case.trial_id in selectors.managed_trial_ids(user=actor):
        return found
    if found is not None and found.assignment.reader_id == actor.pk:
        raise PermissionDeniedError("Only a trial admin can do this.")
    raise NotFoundError("No such read task.")


@transaction.atomic
def read_task_reopen(*, actor: User, task: ReadTask, reason: str) -> ReadTask | ReopenRequest:
    """Re-open a signed timepoint (trial admin, with a reason); with the design's second-approval
    option this only records the request (the re-open happens on another admin's approval)."""
    task = _admin_task(actor, task)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason for re-opening a signed read."})
    task = ReadTask.objects.select_for_update(of=("self",)).select_related(
        "assignment__case__trial", "visit__timepoint").get(pk=task.pk)
    if task.state != ReadTaskState.SIGNED:
        raise DomainError("Only a signed timepoint can be re-opened.")
    design = ReadDesign.objects.filter(trial_id=task.assignment.case.trial_id).first()
    if design is not None and design.reopen_needs_approval:
        if ReopenRequest.objects.filter(task=task, state=ReopenState.PENDING).exists():
            raise DomainError("A re-open of this timepoint is already waiting for approval.")
        request = ReopenRequest(task=task, requested_by=actor, reason=reason.strip())
        stamp(request, actor, reason)
        request.save()
        audit_record(actor=actor, action=AuditAction.READ_TASK_REOPEN_REQUEST, target=task, trial=_trial(task),
                     reason=reason, data={"request": request.pk})
        return request
    return _reopen(actor, task, reason.strip())


@transaction.atomic
def read_task_reopen_approve(*, actor: User, task: ReadTask) -> ReadTask:
    """A second trial admin approves the pending re-open of `task`."""
    task = _admin_task(actor, task)
    request = ReopenRequest.objects.select_for_update().filter(task=task, state=ReopenState.PENDING).first()
    if request is None:
        raise DomainError("No re-open of this timepoint is waiting for approval.")
    if request.requested_by_id == actor.pk:
        raise PermissionDeniedError("A second trial admin must approve: you asked for this re-open.")
    transition(REOPEN_MACHINE, request, ReopenState.APPROVED, actor=actor, trial=_trial(task), reason=request.reason,
               bookkeeping={"decided_by": actor, "decided_at": timezone.now()})
    task = ReadTask.objects.select_for_update(of=("self",)).select_related(
        "assignment__case__trial", "visit__timepoint").get(pk=task.pk)
    return _reopen(actor, task, request.reason)


def _reopen(actor: User, task: ReadTask, reason: str) -> ReadTask:
    trial = _trial(task)
    now = timezone.now()
    for signature in Signature.objects.filter(task__assignment=task.assignment, superseded=False,
                                              task__sequence__gte=task.sequence):
        signature.superseded, signature.superseded_at, signature.superseded_reason = True, now, reason[:255]
        stamp(signature, actor, reason)
        signature.save(update_fields=["superseded", "superseded_at", "superseded_reason"])
    transition(READ_TASK_MACHINE, task, ReadTaskState.IN_PROGRESS, actor=actor, trial=trial, reason=reason,
               action=AuditAction.READ_TASK_REOPEN, fields={"response": None},
               data={"case": task.assignment.case.code, "timepoint": task.visit.timepoint.code})
    for later in task.assignment.tasks.filter(sequence__gt=task.sequence).select_related("visit"):
        if later.state in (ReadTaskState.SIGNED, ReadTaskState.NOT_REQUIRED, ReadTaskState.IN_PROGRESS,
                           ReadTaskState.READY):
            transition(READ_TASK_MACHINE, later, ReadTaskState.WAITING, actor=actor, trial=trial,
                       reason=f"An earlier timepoint was re-opened: {reason}"[:100],
                       fields={"response": None} if later.state == ReadTaskState.SIGNED else None)
    for visit_task in task.assignment.tasks.filter(sequence__gte=task.sequence).select_related("visit"):
        if visit_task.visit.state == VisitState.READ:
            visit_transition(actor=actor, visit=visit_task.visit, state=VisitState.ACCEPTED,
                             reason="A read of this timepoint was re-opened.")
    _refresh(actor, task.assignment, reason="")
    adjudications_void(actor=actor, case=task.assignment.case, from_sequence=task.sequence, reason=reason)
    return task


@transaction.atomic
def read_case_not_done(*, actor: User, case: Any, timepoint: str, reason: str) -> list[ReadTask]:
    """Mark a missed timepoint of a case not done (trial admin, with a reason), so the next one opens."""
    require_trial_perm(actor, "manage_trial", case.trial)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason (e.g. the visit was missed)."})
    tasks = list(ReadTask.objects.select_for_update(of=("self",)).select_related("visit__timepoint", "assignment")
                 .filter(assignment__case=case, visit__timepoint__code=timepoint))
    if not tasks:
        raise ValidationError({"timepoint": f"Case {case.code} has no timepoint {timepoint!r}."})
    if tasks[0].sequence == 0:
        raise ValidationError({"timepoint": "The baseline cannot be marked not done."})
    changed = []
    for task in tasks:
        if task.state in SETTLED_TASK_STATES:
            raise DomainError(f"{timepoint} is already {task.get_state_display().lower()} for Reader "
                              f"{task.assignment.slot}: re-open it first.")
        transition(READ_TASK_MACHINE, task, ReadTaskState.NOT_DONE, actor=actor, trial=case.trial, reason=reason,
                   action=AuditAction.READ_TASK_NOT_DONE, data={"case": case.code, "timepoint": timepoint})
        changed.append(task)
    for assignment in {t.assignment_id: t.assignment for t in tasks}.values():
        _refresh(actor, assignment, reason="")
    adjudication_evaluate(actor=actor, case=case)
    visits_read_check(actor, case)
    return changed
