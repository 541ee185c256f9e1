"""Every write of the reads app (reads.md): the read design, cases, assignments and task states.

Each public function takes the acting user, checks their right, changes state in one
transaction (task states only through READ_TASK_MACHINE) and writes the audit event. Cases and
tasks are created and moved by the visit's own moves (`on_visit_state_changed`, connected to
trials.signals.visit_state_changed): QC acceptance opens reads, a lost acceptance closes them.
"""
from __future__ import annotations

import random
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from audit.actions import AuditAction
from audit.services import audit_record, diff, jsonable
from audit.transitions import transition
from ictms.lib.errors import DomainError
from ictms.lib.history import stamp
from reads import assignment as balance
from reads import selectors
from reads.choices import READ_TASK_MACHINE, SETTLED_TASK_STATES, Paradigm, ReadTaskState, Trigger
from reads.models import Lesion, Observation, ReadAssignment, ReadCase, ReadDesign, ReaderSeed, ReadTask
from trials.choices import Role, VisitState
from trials.models import Membership, Participant, Trial, Visit
from trials.services import require_trial_perm

DESIGN_FIELDS = (
    "criteria", "paradigm", "triggers", "confirmation_required", "confirmation_min_weeks", "sd_min_weeks",
    "visit_window_weeks", "stop_after_progression", "reported_read", "reopen_needs_approval",
)
ACCEPTED_STATES = (VisitState.ACCEPTED, VisitState.READ)


def _design_snapshot(design: ReadDesign, readers: list[str], adjudicators: list[str]) -> dict[str, Any]:
    values = {name: getattr(design, name) for name in DESIGN_FIELDS}
    return jsonable({**values, "readers": sorted(readers), "adjudicators": sorted(adjudicators)})


def _pool(trial: Trial, usernames: list[str], role: Role, field: str) -> list[User]:
    """The users named, each an active member of `trial` with `role` (400 naming the others)."""
    names = list(dict.fromkeys(u.strip() for u in usernames if u and u.strip()))
    members = {m.user.username: m.user for m in Membership.objects.filter(
        trial=trial, is_active=True, role=role, user__username__in=names).select_related("user")}
    wrong = [n for n in names if n not in members]
    if wrong:
        raise ValidationError({field: f"Not a {role.label.lower()} of {trial.code}: {', '.join(wrong)}."})
    return [members[n] for n in names]


@transaction.atomic
def read_design_save(
    *, actor: User, trial: Trial, paradigm: str, readers: list[str], adjudicators: list[str],
    triggers: list[str] | None = None, reason: str = "", **options: Any,
) -> ReadDesign:
    """Create or change the trial's read design, then open cases for baselines already accepted.

    A read design requires the trial to blind readers; the pools are members with the reader and
    adjudicator roles; the paradigm is fixed once cases are assigned; a change after the first
    signature needs a reason (signed reads are never touched by it).
    """
    require_trial_perm(actor, "manage_trial", trial)
    trial = Trial.objects.select_for_update().get(pk=trial.pk)
    if not trial.blind_readers:
        raise ValidationError({"paradigm": "A read design requires the trial to blind readers: turn on "
                                           "'blind readers' in the trial settings first."})
    unknown = sorted(set(options) - set(DESIGN_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: "Not a read design option."})
    if paradigm not in Paradigm.values:
        raise ValidationError({"paradigm": f"Choose one of: {', '.join(Paradigm.values)}."})
    triggers = list(dict.fromkeys(triggers if triggers is not None else [Trigger.BEST_RESPONSE, Trigger.PROGRESSION]))
    bad = [t for t in triggers if t not in Trigger.values]
    if bad:
        raise ValidationError({"triggers": f"Unknown trigger(s): {', '.join(map(str, bad))}. "
                                           f"Choose from {', '.join(Trigger.values)}."})
    reader_users = _pool(trial, readers, Role.READER, "readers")
    adjudicator_users = _pool(trial, adjudicators, Role.ADJUDICATOR, "adjudicators")
    needed = 2 if paradigm == Paradigm.DOUBLE else 1
    if len(reader_users) < needed:
        raise ValidationError({"readers": f"A {paradigm} read needs at least {needed} reader(s) in the pool."})
    if paradigm == Paradigm.DOUBLE and not adjudicator_users:
        raise ValidationError({"adjudicators": "A double read needs at least one adjudicator."})

    design = ReadDesign.objects.select_for_update().filter(trial=trial).first()
    creating = design is None
    if design is None:
        design = ReadDesign(trial=trial, seed=balance.new_seed())
        before: dict[str, Any] = {}
    else:
        before = _design_snapshot(design, [u.username for u in design.readers.all()],
                                  [u.username for u in design.adjudicators.all()])
        if paradigm != design.paradigm and ReadCase.objects.filter(trial=trial).exists():
            raise ValidationError({"paradigm": "The paradigm cannot change once cases have been assigned to readers."})
    design.paradigm = paradigm
    design.triggers = [str(t) for t in triggers]
    for name, value in options.items():
        setattr(design, name, value)
    after = _design_snapshot(design, [u.username for u in reader_users], [u.username for u in adjudicator_users])
    changes = diff(before, after)
    if not creating and not changes:
        return design
    if not creating and selectors.any_signed(trial=trial) and not reason.strip():
        raise ValidationError({"reason": "Reads have been signed in this trial: give a reason for changing the "
                                         "read design (signed reads stay as they are)."})
    if not creating:
        design.version += 1
    try:
        design.full_clean(exclude=["trial"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    stamp(design, actor, reason)
    design.save()
    design.readers.set(reader_users)
    design.adjudicators.set(adjudicator_users)
    audit_record(actor=actor, action=AuditAction.READ_DESIGN_SAVE, target=design, trial=trial, reason=reason,
                 changes=changes, data={"version": design.version})
    _open_waiting_cases(actor, design)
    return design


# --- cases, assignment, tasks (driven by the visits' moves) ---------------------------------------

def _open_waiting_cases(actor: User | None, design: ReadDesign) -> None:
    """Open a case for every participant whose baseline is accepted and who has none yet."""
    participants = Participant.objects.filter(
        trial=design.trial, visits__timepoint__is_baseline=True, visits__state__in=ACCEPTED_STATES,
    ).exclude(read_case__isnull=False).order_by("id")
    for participant in participants:
        _case_create(actor, design, participant)


def _case_create(actor: User | None, design: ReadDesign, participant: Participant) -> ReadCase:
    trial = design.trial
    taken = set(ReadCase.objects.filter(trial=trial).values_list("code", flat=True))
    case = ReadCase(trial=trial, participant=participant, code=balance.new_case_code(taken))
    stamp(case, actor, "baseline accepted")
    case.save()
    audit_record(actor=actor, action=AuditAction.READ_CASE_CREATE, target=case, trial=trial,
                 reason="The baseline visit was accepted by QC.", data={"code": case.code})
    _assign_open_slots(actor, design, case)
    return case


def _reader_seed(trial: Trial, reader: User) -> int:
    row = ReaderSeed.objects.filter(trial=trial, reader=reader).first()
    if row is None:
        row = ReaderSeed(trial=trial, reader=reader, seed=balance.new_seed())
        row.save()
    return row.seed


def _assign_open_slots(actor: User | None, design: ReadDesign, case: ReadCase) -> None:
    """Give each empty reader slot of `case` to the least-loaded readers of the pool."""
    taken = {a.slot: a.reader_id for a in case.assignments.all()}
    open_slots = [s for s in range(1, design.readers_per_case + 1) if s not in taken]
    if not open_slots:
        return
    pool = {u.pk: u for u in design.readers.all() if u.pk not in taken.values()}
    loads = selectors.reader_loads(trial=design.trial)
    rng = random.Random(f"{design.seed}:{case.code}")
    chosen = balance.choose_readers({pk: loads.get(pk, 0) for pk in pool}, len(open_slots), rng=rng)
    for slot, reader_id in zip(open_slots, chosen, strict=True):
        reader = pool[reader_id]
        assignment = ReadAssignment(case=case, slot=slot, reader=reader,
                                    order_key=balance.order_key(_reader_seed(design.trial, reader), case.code))
        stamp(assignment, actor, "assigned")
        assignment.save()
        audit_record(actor=actor, action=AuditAction.READ_ASSIGNMENT_CREATE, target=assignment, trial=design.trial,
                     data={"case": case.code, "slot": slot, "reader": reader.username})
    _tasks_sync(actor, case)


def _tasks_sync(actor: User | None, case: ReadCase) -> None:
    """Make sure every reader of `case` has a task for each of the participant's visits; refresh states."""
    visits = list(Visit.objects.filter(participant_id=case.participant_id).select_related("timepoint"))
    for assignment in case.assignments.all():
        have = set(assignment.tasks.values_list("visit_id", flat=True))
        for visit in visits:
            if visit.pk in have:
                continue
            task = ReadTask(assignment=assignment, visit=visit)
            stamp(task, actor, "timepoint joined the case")
            task.save()
            audit_record(actor=actor, action=AuditAction.READ_TASK_CREATE, target=task, trial=case.trial,
                         data={"case": case.code, "slot": assignment.slot, "timepoint": visit.timepoint.code})
        _refresh(actor, assignment, reason="")


def _refresh(actor: User | None, assignment: ReadAssignment, *, reason: str) -> None:
    """Put the reader's tasks of one case in reading order and open exactly the next one.

    A task waits while its visit is not accepted or an earlier timepoint of this read is not yet
    settled (signed, not done, not required); the first unsettled task whose visit is accepted
    is ready (or stays in progress). Signed tasks never move here.
    """
    tasks = list(assignment.tasks.select_related("visit__timepoint"))
    baseline = next((t for t in tasks if t.visit.timepoint.is_baseline), None)
    rest = [t for t in tasks if t is not baseline]
    order = balance.reading_order([(t.visit.scan_date, t.visit.timepoint.order) for t in rest])
    ordered = ([baseline] if baseline else []) + [rest[i] for i in order]
    base_date = baseline.visit.scan_date if baseline else None
    blocked = False
    trial = assignment.case.trial
    for sequence, task in enumerate(ordered):
        days = (task.visit.scan_date - base_date).days if base_date and task.visit.scan_date else None
        if (task.sequence, task.days_since_baseline) != (sequence, days):
            task.sequence, task.days_since_baseline = sequence, days
            task.save(update_fields=["sequence", "days_since_baseline"])
        if task.state in SETTLED_TASK_STATES:
            continue
        accepted = task.visit.state in ACCEPTED_STATES
        wanted: str
        if blocked or not accepted:
            wanted = ReadTaskState.WAITING
        else:
            wanted = ReadTaskState.READY if task.state == ReadTaskState.WAITING else task.state
        blocked = True
        if wanted != task.state:
            why = reason or ("The visit's images are no longer accepted by QC." if not accepted else
                             "The timepoint is the next one to read." if wanted == ReadTaskState.READY else
                             "An earlier timepoint of this case is not signed yet.")
            transition(READ_TASK_MACHINE, task, wanted, actor=actor, trial=trial, reason=why,
                       data={"case": assignment.case.code, "slot": assignment.slot})


def on_visit_state_changed(*, visit: Visit, previous: str, actor: User | None, **_: Any) -> None:
    """Follow a visit's move (inside its transaction): acceptance opens reads, a lost one closes them."""
    design = ReadDesign.objects.filter(trial_id=visit.participant.trial_id).select_related("trial").first()
    if design is None:
        return
    case = ReadCase.objects.filter(participant_id=visit.participant_id).select_related("trial").first()
    if visit.state in ACCEPTED_STATES and previous not in ACCEPTED_STATES:
        if case is None:
            if visit.timepoint.is_baseline:
                _case_create(actor, design, visit.participant)
            return
        _tasks_sync(actor, case)
    elif case is not None and previous in ACCEPTED_STATES and visit.state not in ACCEPTED_STATES:
        for assignment in case.assignments.all():
            _refresh(actor, assignment, reason="")


@transaction.atomic
def read_case_reassign(*, actor: User, case: ReadCase, from_username: str, to_username: str, reason: str) -> ReadAssignment:
    """Move one reader slot of a case to another reader of the pool, before anything on it is signed."""
    require_trial_perm(actor, "manage_trial", case.trial)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give a reason for the reassignment."})
    design = ReadDesign.objects.filter(trial=case.trial).first()
    if design is None:
        raise DomainError("This trial has no read design.")
    assignment = (ReadAssignment.objects.select_for_update(of=("self",)).select_related("reader", "case__trial")
                  .filter(case=case, reader__username=from_username).first())
    if assignment is None:
        raise ValidationError({"from": f"{from_username} does not read case {case.code}."})
    target = design.readers.filter(username=to_username).first()
    if target is None:
        raise ValidationError({"to": f"{to_username} is not in the reader pool of {case.trial.code}."})
    if ReadAssignment.objects.filter(case=case, reader=target).exists():
        raise ValidationError({"to": f"{to_username} already reads case {case.code}: the two readers must differ."})
    if assignment.tasks.filter(Q(state=ReadTaskState.SIGNED) | Q(signed_at__isnull=False)).exists():
        raise DomainError(f"{from_username} has signed a timepoint of case {case.code}: the case can no longer be "
                          "reassigned (re-open the read instead).")
    previous = assignment.reader
    # The previous reader's unsigned entries are their work, never the next reader's: they go.
    dropped = 0
    for obs in Observation.objects.filter(task__assignment=assignment):
        stamp(obs, actor, reason)
        obs.delete()
        dropped += 1
    for lesion in Lesion.objects.filter(assignment=assignment):
        stamp(lesion, actor, reason)
        lesion.delete()
    for task in assignment.tasks.exclude(new_lesions_none=False):
        task.new_lesions_none = False
        stamp(task, actor, reason)
        task.save(update_fields=["new_lesions_none"])
    assignment.reader = target
    assignment.order_key = balance.order_key(_reader_seed(case.trial, target), case.code)
    stamp(assignment, actor, reason)
    assignment.save(update_fields=["reader", "order_key"])
    for task in assignment.tasks.filter(state=ReadTaskState.IN_PROGRESS):
        transition(READ_TASK_MACHINE, task, ReadTaskState.READY, actor=actor, trial=case.trial, reason=reason,
                   bookkeeping={"started_at": None, "active_seconds": 0})
    audit_record(actor=actor, action=AuditAction.READ_CASE_REASSIGN, target=assignment, trial=case.trial, reason=reason,
                 changes={"reader": [previous.username, target.username]},
                 data={"case": case.code, "slot": assignment.slot, "observations_dropped": dropped})
    return assignment

