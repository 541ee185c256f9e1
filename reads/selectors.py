"""Reads of the reads app, scoped to the caller: admins see every case (with subject codes),
readers only their own tasks and cases, by code; nobody else sees read work (reads.md)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from ictms.lib.errors import NotFoundError
from ictms.lib.users import AnyUser
from imaging.archive.read_access import FAIL_CLOSED, Blinding
from imaging.models import Study
from reads.choices import OPEN_TASK_STATES, ReadTaskState
from reads.models import ReadAssignment, ReadCase, ReadDesign, ReadTask
from trials.choices import BLINDED_ROLES
from trials.models import Membership, Trial
from trials.selectors import trials_with


def read_design_get(*, trial: Trial) -> ReadDesign | None:
    """The trial's read design (callers have checked the caller may manage the trial)."""
    return ReadDesign.objects.filter(trial=trial).prefetch_related("readers", "adjudicators").first()


def read_case_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[ReadCase]:
    """Admins: every case of the trials they manage. Readers: the cases they read. Others: none."""
    own = ReadAssignment.objects.filter(reader_id=user.pk).values("case_id")
    qs = ReadCase.objects.filter(
        Q(trial__in=trials_with(user, "trials.manage_trial"))
        | Q(trial__in=trials_with(user, "trials.read_images"), pk__in=own)
    )
    if trial is not None:
        qs = qs.filter(trial=trial)
    return qs.select_related("trial", "participant__site").order_by("trial__code", "code")


def managed_trial_ids(*, user: AnyUser) -> set[int]:
    """Trials the caller administers (they see subject codes next to case codes there)."""
    return set(trials_with(user, "trials.manage_trial").values_list("id", flat=True))


def with_progress(qs: QuerySet[ReadCase]) -> QuerySet[ReadCase]:
    """Cases with their readers and task counts (`tasks_signed`, `tasks_total`), for admin lists."""
    return qs.prefetch_related("assignments__reader").annotate(
        tasks_total=Count("assignments__tasks", filter=~Q(assignments__tasks__state=ReadTaskState.NOT_REQUIRED)),
        tasks_signed=Count("assignments__tasks", filter=Q(assignments__tasks__state=ReadTaskState.SIGNED)),
    )


def read_case_get_for_user(*, user: AnyUser, pk: int) -> ReadCase:
    case = read_case_list_for_user(user=user).filter(pk=pk).first()
    if case is None:
        raise NotFoundError("No such read case.")
    return case


def read_task_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[ReadTask]:
    """The caller's own read tasks (waiting ones included), in their worklist order."""
    qs = ReadTask.objects.filter(
        assignment__reader_id=user.pk, assignment__case__trial__in=trials_with(user, "trials.read_images"),
    ).select_related("assignment__case__trial", "visit__timepoint")
    if trial is not None:
        qs = qs.filter(assignment__case__trial=trial)
    return qs.order_by("assignment__order_key", "assignment__case_id", "sequence", "id")


def read_task_get_for_user(*, user: AnyUser, pk: int) -> ReadTask:
    task = read_task_list_for_user(user=user).filter(pk=pk).first()
    if task is None:
        raise NotFoundError("No such read task.")
    return task


def readable_visit_ids(*, user: AnyUser) -> QuerySet[ReadTask, Any]:
    """Visits whose images the caller may open blinded: as a reader, those of their own tasks that are
    open or signed; as an adjudicator, the signed timepoints their adjudications compare."""
    own = Q(assignment__reader_id=user.pk, assignment__case__trial__in=trials_with(user, "trials.read_images"),
            state__in=OPEN_TASK_STATES)
    adjudicated = Q(
        assignment__case__trial__in=trials_with(user, "trials.adjudicate"),
        assignment__case__adjudications__adjudicator_id=user.pk,
        assignment__case__adjudications__state__in=("open", "decided"),
        sequence__lte=F("assignment__case__adjudications__up_to"), state=ReadTaskState.SIGNED,
    )
    return ReadTask.objects.filter(own | adjudicated).values("visit_id")


def measurable_visit_ids(*, user: AnyUser) -> QuerySet[ReadTask, Any]:
    """Visits on whose images the caller may measure as a reader: their own tasks being read
    (ready or in progress). A signed read is final, so its images are for looking only."""
    return read_task_list_for_user(user=user).filter(
        state__in=(ReadTaskState.READY, ReadTaskState.IN_PROGRESS)).values("visit_id")


def task_visits(*, task: ReadTask) -> list[ReadTask]:
    """The reader's tasks of the same case up to `task` whose images they may open, in reading order."""
    return list(
        ReadTask.objects.filter(assignment=task.assignment, sequence__lte=task.sequence, state__in=OPEN_TASK_STATES)
        .select_related("visit__timepoint").order_by("sequence")
    )


# --- the reader's worklist --------------------------------------------------------------------

@dataclass
class WorklistCase:
    case: ReadCase
    tasks: list[ReadTask] = field(default_factory=list)

    @property
    def signed(self) -> int:
        return sum(1 for t in self.tasks if t.state == ReadTaskState.SIGNED)


@dataclass(frozen=True)
class Worklist:
    cases: list[WorklistCase]
    signed: int
    total: int
    next_task: ReadTask | None


def worklist(*, user: AnyUser, trial: Trial) -> Worklist:
    """The caller's tasks grouped by case in their randomized order, with progress (one query)."""
    groups: dict[int, WorklistCase] = {}
    tasks = list(read_task_list_for_user(user=user, trial=trial))
    for task in tasks:
        case = task.assignment.case
        groups.setdefault(case.pk, WorklistCase(case)).tasks.append(task)
    counted = [t for t in tasks if t.state != ReadTaskState.NOT_REQUIRED]
    next_task = next((t for t in tasks if t.state in (ReadTaskState.IN_PROGRESS, ReadTaskState.READY)), None)
    return Worklist(list(groups.values()), sum(1 for t in counted if t.state == ReadTaskState.SIGNED), len(counted),
                    next_task)


# --- the admin's assignment view ----------------------------------------------------------------

@dataclass
class AssignmentRow:
    case: ReadCase
    slots: dict[int, ReadAssignment]
    tasks: dict[int, list[ReadTask]]  # slot -> tasks in reading order

    @property
    def timepoints(self) -> list[str]:
        first = self.tasks.get(1) or next(iter(self.tasks.values()), [])
        return [t.visit.timepoint.label for t in first]


@dataclass(frozen=True)
class AssignmentOverview:
    rows: list[AssignmentRow]
    loads: list[tuple[str, int, int]]  # (username, cases, signed tasks)


def assignment_overview(*, trial: Trial) -> AssignmentOverview:
    """Cases × reader slots with each task's state, and counts per reader (three queries).

    Callers are admin pages that have checked manage_trial: this shows subject codes.
    """
    cases = list(ReadCase.objects.filter(trial=trial).select_related("participant__site").order_by("code"))
    assignments = list(ReadAssignment.objects.filter(case__trial=trial).select_related("reader"))
    tasks = list(ReadTask.objects.filter(assignment__case__trial=trial).select_related("visit__timepoint")
                 .order_by("assignment_id", "sequence"))
    by_case: dict[int, dict[int, ReadAssignment]] = defaultdict(dict)
    for a in assignments:
        by_case[a.case_id][a.slot] = a
    slot_of = {a.pk: a for a in assignments}
    tasks_by: dict[tuple[int, int], list[ReadTask]] = defaultdict(list)
    for t in tasks:
        a = slot_of[t.assignment_id]
        tasks_by[(a.case_id, a.slot)].append(t)
    rows = [AssignmentRow(c, by_case.get(c.pk, {}), {s: tasks_by[(c.pk, s)] for s in by_case.get(c.pk, {})})
            for c in cases]
    load: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in assignments:
        load[a.reader.username][0] += 1
    for t in tasks:
        if t.state == ReadTaskState.SIGNED:
            load[slot_of[t.assignment_id].reader.username][1] += 1
    return AssignmentOverview(rows, sorted((u, n, s) for u, (n, s) in load.items()))


def reader_loads(*, trial: Trial) -> dict[int, int]:
    """Reader id -> number of cases assigned to them in the trial."""
    return dict(ReadAssignment.objects.filter(case__trial=trial).values("reader_id")
                .annotate(n=Count("id")).values_list("reader_id", "n"))


def any_signed(*, trial: Trial) -> bool:
    """Has any read of the trial been signed (then changing the read design needs a reason)?"""
    return ReadTask.objects.filter(assignment__case__trial=trial).filter(
        Q(state=ReadTaskState.SIGNED) | Q(signed_at__isnull=False)).exists()


# --- what a blinded reader sees of the images ---------------------------------------------------

BLINDED_BASELINE_DATE = dt.date(2000, 1, 1)


def case_day_shift(*, case: ReadCase) -> int | None:
    """Days to add to the case's stored (already shifted) dates so its baseline study falls on
    BLINDED_BASELINE_DATE; None when the baseline has no study date (then dates are withheld)."""
    baseline = (Study.objects.filter(participant_id=case.participant_id, visit__timepoint__is_baseline=True,
                                     study_date__isnull=False).order_by("study_date").values_list("study_date", flat=True)
                .first())
    if baseline is None:
        return None
    return (BLINDED_BASELINE_DATE - baseline).days


def measurement_refusal(*, measurement_id: int, deleting: bool) -> str:
    """A measurement of a signed observation is locked; one of an unsigned observation may be moved
    (the diameter follows it until signing) but not deleted while the observation uses it."""
    from reads.models import Observation

    obs = (Observation.objects.filter(measurement_id=measurement_id).select_related("task", "lesion")
           .order_by("-task__state").first())
    if obs is None:
        return ""
    if obs.task.state == ReadTaskState.SIGNED or (obs.diameter_mm is not None and obs.kind == "measured"):
        return (f"This measurement is {obs.lesion.label}'s diameter in a signed read: it is locked "
                "(the trial admin must re-open the read).")
    if deleting:
        return (f"This measurement is {obs.lesion.label}'s observation at this timepoint: record another "
                "measurement (or remove the observation) before deleting it.")
    return ""


class ReadAccess:
    """The provider imaging.archive.read_access asks (registered in ReadsConfig.ready)."""

    def visit_ids(self, user: AnyUser) -> QuerySet[ReadTask, Any]:
        return readable_visit_ids(user=user)

    def measurable_visit_ids(self, user: AnyUser) -> QuerySet[ReadTask, Any]:
        return measurable_visit_ids(user=user)

    def measurement_refusal(self, measurement_id: int, *, deleting: bool) -> str:
        return measurement_refusal(measurement_id=measurement_id, deleting=deleting)

    def blinding(self, user: AnyUser, participant_id: int, trial_id: int) -> Blinding | None:
        if user.pk is None or not Membership.objects.filter(user_id=user.pk, trial_id=trial_id, is_active=True,
                                                            role__in=BLINDED_ROLES).exists():
            return None
        case = ReadCase.objects.filter(trial_id=trial_id, participant_id=participant_id).first()
        if case is None:
            return FAIL_CLOSED
        return Blinding(code=case.code, day_shift=case_day_shift(case=case))
