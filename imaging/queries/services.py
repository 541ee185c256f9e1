"""Queries from the core lab to sites: raise, answer (with a re-upload), resolve, reopen, cancel.

The state table is QUERY_MACHINE (imaging/choices.py). QC analysts raise, resolve, reopen
and cancel; the site coordinators of the visit's site answer. Nobody writes in the thread of a
resolved or cancelled query. Every transition is audited with its actor and message and the
people who must act next are e-mailed after commit.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_record
from audit.transitions import transition
from ictms.lib.errors import NotFoundError, PermissionDeniedError
from ictms.lib.history import stamp
from imaging.choices import QUERY_MACHINE, QueryAction, QueryCategory, QueryState
from imaging.models import Query, QueryMessage, Series, Submission
from trials.models import Visit
from trials.services import visit_reupload_request_set

# Each step of a query's thread and the audit action that records it.
_AUDIT_ACTIONS = {
    QueryAction.RAISE: AuditAction.QUERY_RAISE, QueryAction.ANSWER: AuditAction.QUERY_ANSWER,
    QueryAction.AUTO_ANSWER: AuditAction.QUERY_AUTO_ANSWER, QueryAction.RESOLVE: AuditAction.QUERY_RESOLVE,
    QueryAction.REOPEN: AuditAction.QUERY_REOPEN, QueryAction.CANCEL: AuditAction.QUERY_CANCEL,
}


def _can_see(actor: User, visit: Visit) -> bool:
    p = visit.participant
    return actor.has_perm("trials.view_all_sites", p.trial) or actor.has_perm("trials.view_site_data", p.site)


def require_qc(actor: User, visit: Visit) -> None:
    if actor.has_perm("trials.perform_qc", visit.participant.trial):
        return
    if _can_see(actor, visit):
        raise PermissionDeniedError("Only the core lab's QC analysts can do this.")
    raise NotFoundError("No such visit.")


def require_site(actor: User, visit: Visit) -> None:
    if actor.has_perm("trials.answer_queries", visit.participant.site):
        return
    if _can_see(actor, visit):
        raise PermissionDeniedError("Only the site's coordinators answer its queries.")
    raise NotFoundError("No such visit.")


def _text(message: str, what: str) -> str:
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": f"Write a message to {what}."})
    return message


def _locked(query: Query) -> Query:
    return Query.objects.select_for_update(of=("self",)).select_related(
        "visit__participant__trial", "visit__participant__site", "visit__timepoint").get(pk=query.pk)


def _message(query: Query, actor: User | None, action: str, text: str, submission: Submission | None = None) -> QueryMessage:
    message = QueryMessage(query=query, author=actor, action=action, text=text, submission=submission)
    message.full_clean()
    stamp(message, actor)
    message.save()
    return message


def _move(query: Query, actor: User | None, target: str, action: str, text: str,
          submission: Submission | None = None) -> Query:
    now = timezone.now()
    moves_with: dict[str, dict[str, Any]] = {
        QueryState.ANSWERED: {"answered_at": now}, QueryState.OPEN: {"answered_at": None},
        QueryState.RESOLVED: {"closed_at": now}, QueryState.CANCELLED: {"closed_at": now},
    }
    timestamps = moves_with[QueryState(target)]
    transition(QUERY_MACHINE, query, target, actor=actor, trial=query.visit.participant.trial_id, reason=text,
               bookkeeping=timestamps, action=_AUDIT_ACTIONS[QueryAction(action)], data={"submission": submission.pk} if submission else None)
    _message(query, actor, action, text, submission)
    _set_reupload_flag(query.visit_id, actor)
    _notify(query.pk, action)
    return query


def _set_reupload_flag(visit_id: int, actor: User | None) -> None:
    """A visit takes new images while any open query asks for them (even after acceptance)."""
    wanted = Query.objects.filter(visit_id=visit_id, state=QueryState.OPEN, requests_reupload=True).exists()
    visit_reupload_request_set(actor=actor, visit=Visit(pk=visit_id), requested=wanted,
                               reason="query asks for a re-upload" if wanted else "no query asks for a re-upload")


def _notify(query_id: int, action: str) -> None:
    from imaging.queries.tasks import query_notify_task

    transaction.on_commit(lambda: query_notify_task.delay(query_id, action))


@transaction.atomic
def query_raise(
    *, actor: User | None, visit: Visit, subject: str, message: str, category: str = QueryCategory.OTHER,
    series: Series | None = None, requests_reupload: bool = True, due_date: dt.date | None = None,
    is_automatic: bool = False, cause_key: str = "",
) -> Query:
    """Open a query to the visit's site. `actor` None means automated QC (the system).

    Without a due date the query is due after the trial's `query_due_days`, whoever raises it.
    """
    visit = Visit.objects.select_related("participant__trial", "participant__site", "timepoint").get(pk=visit.pk)
    if actor is not None:
        require_qc(actor, visit)
    if category not in QueryCategory.values:
        raise ValidationError({"category": "Unknown category."})
    if series is not None and series.study.visit_id != visit.pk:
        raise ValidationError({"series": "That series belongs to another visit."})
    text = _text(message, "the site")
    subject = (subject or "").strip()[:255] or text[:120]
    query = Query(
        visit=visit, series=series, category=category, subject=subject, is_automatic=is_automatic, cause_key=cause_key,
        requests_reupload=requests_reupload, raised_by=actor,
        due_date=due_date or visit.participant.trial.query_due_date(timezone.localdate()),
    )
    query.full_clean()
    stamp(query, actor)
    query.save()
    _message(query, actor, QueryAction.RAISE, text)
    audit_record(actor=actor, action=_AUDIT_ACTIONS[QueryAction.RAISE], target=query, trial=visit.participant.trial_id, reason=text,
                 data={"visit": str(visit), "category": category, "automatic": is_automatic,
                       "series": series.pk if series else None})
    _set_reupload_flag(visit.pk, actor)
    _notify(query.pk, QueryAction.RAISE)
    return query


@transaction.atomic
def query_answer(*, actor: User, query: Query, message: str = "", submission: Submission | None = None) -> Query:
    """The site answers with a message and/or a re-upload (a submission for the same visit)."""
    query = _locked(query)
    require_site(actor, query.visit)
    if submission is not None and submission.visit_id != query.visit_id:
        raise ValidationError({"submission": "Attach a submission of the same visit."})
    if not (message or "").strip() and submission is None:
        raise ValidationError({"message": "Write an answer or attach the re-upload."})
    text = (message or "").strip() or f"Images sent again (submission {submission.pk if submission else ''})."
    return _move(query, actor, QueryState.ANSWERED, QueryAction.ANSWER, text, submission)


@transaction.atomic
def query_resolve(*, actor: User, query: Query, message: str) -> Query:
    query = _locked(query)
    require_qc(actor, query.visit)
    return _move(query, actor, QueryState.RESOLVED, QueryAction.RESOLVE, _text(message, "close the query"))


@transaction.atomic
def query_reopen(*, actor: User, query: Query, message: str) -> Query:
    query = _locked(query)
    require_qc(actor, query.visit)
    return _move(query, actor, QueryState.OPEN, QueryAction.REOPEN, _text(message, "tell the site what is still missing"))


@transaction.atomic
def query_cancel(*, actor: User, query: Query, message: str) -> Query:
    query = _locked(query)
    require_qc(actor, query.visit)
    return _move(query, actor, QueryState.CANCELLED, QueryAction.CANCEL, _text(message, "explain the withdrawal"))


def query_auto_answer(*, query: Query, submission: Submission | None, text: str) -> Query | None:
    """A re-upload fixed the cause of an automatic query: mark it answered (never resolved)."""
    query = _locked(query)
    if query.state != QueryState.OPEN:
        return None
    return _move(query, None, QueryState.ANSWERED, QueryAction.AUTO_ANSWER, text, submission)
