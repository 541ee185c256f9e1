"""Image-quality queries from readers to QC (reads.md: "A reader who cannot read a timepoint because
of image quality raises a query to QC from the task; the task shows it and stays unsigned until QC
answers"). Services (raise, answer) and the scoped list, in one small module."""
from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_record
from audit.transitions import transition
from ictms.lib.errors import DomainError, NotFoundError
from ictms.lib.history import stamp
from ictms.lib.users import AnyUser
from reads import selectors
from reads.choices import QUALITY_QUERY_MACHINE, QualityQueryState, ReadTaskState
from reads.models import QualityQuery, ReadTask
from trials.models import Trial
from trials.services import require_trial_perm


def quality_query_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[QualityQuery]:
    """QC analysts and admins: every query of their trials. Readers: those of their own tasks."""
    qs = QualityQuery.objects.filter(
        Q(task__assignment__case__trial__in=selectors.trials_with(user, "trials.perform_qc"))
        | Q(task__assignment__case__trial__in=selectors.trials_with(user, "trials.manage_trial"))
        | Q(task__in=selectors.read_task_list_for_user(user=user).values("pk"))
    ).select_related("task__assignment__case__trial", "task__assignment__case__participant",
                     "task__visit__timepoint", "raised_by", "answered_by")
    if trial is not None:
        qs = qs.filter(task__assignment__case__trial=trial)
    return qs.order_by("state", "created_at", "id")


@transaction.atomic
def quality_query_raise(*, actor: User, task: ReadTask, message: str) -> QualityQuery:
    """The task's reader asks QC about the images of this timepoint (the task stays unsigned meanwhile)."""
    task = selectors.read_task_get_for_user(user=actor, pk=task.pk)
    if task.state not in (ReadTaskState.READY, ReadTaskState.IN_PROGRESS):
        raise DomainError("Ask QC about the images of a timepoint you are reading (open, not signed).")
    text = (message or "").strip()
    if not text:
        raise ValidationError({"message": "Say what is wrong with the images."})
    query = QualityQuery(task=task, raised_by=actor, message=text)
    stamp(query, actor)
    query.save()
    audit_record(actor=actor, action=AuditAction.READ_QUALITY_QUERY_RAISE, target=query,
                 trial=task.assignment.case.trial, reason=text,
                 data={"case": task.assignment.case.code, "timepoint": task.visit.timepoint.code})
    return query


@transaction.atomic
def quality_query_answer(*, actor: User, query: QualityQuery, message: str) -> QualityQuery:
    """QC answers (e.g. "series 3 is the diagnostic one", or that a re-upload was requested)."""
    found = quality_query_list_for_user(user=actor).filter(pk=query.pk).first()
    if found is None:
        raise NotFoundError("No such query.")
    require_trial_perm(actor, "perform_qc", found.task.assignment.case.trial)
    text = (message or "").strip()
    if not text:
        raise ValidationError({"message": "Give the reader an answer."})
    found = QualityQuery.objects.select_for_update(of=("self",)).select_related(
        "task__assignment__case__trial").get(pk=found.pk)
    transition(QUALITY_QUERY_MACHINE, found, QualityQueryState.ANSWERED, actor=actor,
               trial=found.task.assignment.case.trial, reason=text, action=AuditAction.READ_QUALITY_QUERY_ANSWER,
               fields={"answer": text}, bookkeeping={"answered_by": actor, "answered_at": timezone.now()})
    return found


def open_queries_of(task: ReadTask) -> list[QualityQuery]:
    return list(QualityQuery.objects.filter(task=task, state=QualityQueryState.OPEN))
