"""Quality control: the automated run after each upload, series decisions, visit acceptance."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_record
from audit.transitions import transition
from ictms.lib.errors import DomainError
from ictms.lib.history import stamp
from imaging.choices import (
    QUERY_ACTIVE,
    SERIES_QC_MACHINE,
    QcReason,
    QcStatus,
    QueryCategory,
    QueryState,
    Severity,
)
from imaging.models import QcFinding, QcRun, Query, Series, Submission
from imaging.qc import adapter as qc_adapter
from imaging.qc.rules import QUERY_CATEGORY, FindingCode, evaluate_visit
from imaging.queries.services import query_auto_answer, query_raise, require_qc
from trials.choices import VisitState
from trials.models import Visit
from trials.services import visit_transition


def _cause_key(finding: Any) -> str:
    """What a query about this finding is about, stable across re-uploads that do not fix it.

    A finding against a requirement is about the requirement, whichever series QC picked for it
    (a second thick series must not look like a fixed first one); other findings are about
    their series or study.
    """
    code, requirement, series_uid, study_uid = finding.key
    if requirement:
        return f"{code}:{requirement}::"
    return f"{code}:{requirement}:{series_uid}:{study_uid}"[:255]


def _series_for_uid(visit: Visit) -> dict[str, Series]:
    return {s.series_uid: s for s in Series.objects.filter(study__visit=visit)}


@transaction.atomic
def visit_qc_run(*, visit_id: int, submission_id: int | None = None) -> list[QcFinding]:
    """Recompute the visit's findings; open queries for new blocking ones; mark fixed ones answered.

    Run by the system after each upload (no actor). Findings are replaced wholesale: the
    engine is deterministic, so an unchanged problem gives the same key again.
    """
    visit = Visit.objects.select_for_update(of=("self",)).select_related(
        "participant__trial", "participant__site", "timepoint").get(pk=visit_id)
    trial = visit.participant.trial
    if submission_id is not None:
        latest = QcRun.objects.filter(visit=visit).order_by("-id").first()
        if latest is not None and latest.submission_id == submission_id:
            # Already run on this submission's images (a redelivered task, or a caller that ran it
            # directly before the commit hook did): one run, one qc.run event.
            return list(QcFinding.objects.filter(visit=visit, is_current=True))
    result = evaluate_visit(qc_adapter.series_infos(visit), qc_adapter.requirement_rules(visit), qc_adapter.visit_context(visit),
                            severity_overrides=trial.qc_severity_overrides or None)
    by_uid = _series_for_uid(visit)
    submission = Submission.objects.filter(pk=submission_id).first() if submission_id else None
    run = QcRun(visit=visit, submission=submission, findings=len(result.findings), blocking=len(result.blocking),
                **qc_adapter.run_record(result))
    stamp(run, None)
    run.save()
    for old in QcFinding.objects.filter(visit=visit, is_current=True):
        old.is_current = False
        stamp(old, None, "replaced by a new QC run")
        old.save(update_fields=["is_current"])
    findings: list[QcFinding] = []
    for finding in result.findings:
        row = QcFinding(
            visit=visit, run=run, series=by_uid.get(finding.series_uid or ""),
            requirement_id=finding.requirement_id if isinstance(finding.requirement_id, int) else None,
            code=str(finding.code), key=_cause_key(finding), severity=str(finding.severity),
            message=finding.message, details=finding.as_dict()["details"],
        )
        stamp(row, None)
        row.save()
        findings.append(row)
    blocking = {row.key: row for row in findings if row.severity == Severity.BLOCKING}
    audit_record(actor=None, action=AuditAction.QC_RUN, target=visit, trial=trial,
                 data={"run": run.pk, "submission": submission_id, "findings": len(findings), "blocking": len(blocking),
                       "codes": sorted({row.code for row in findings})})
    active = {q.cause_key: q for q in Query.objects.filter(visit=visit, is_automatic=True, state__in=QUERY_ACTIVE)}
    for key, row in blocking.items():
        if key in active:
            continue
        query_raise(
            actor=None, visit=visit, subject=row.message.split(". ")[0][:200], message=row.message,
            category=QUERY_CATEGORY.get(FindingCode(row.code), QueryCategory.OTHER), series=row.series, is_automatic=True,
            cause_key=key,
        )
    for key, query in active.items():
        if key not in blocking and query.state == QueryState.OPEN:
            where = f"the re-upload in submission {submission.pk}" if submission else "a new QC run"
            query_auto_answer(query=query, submission=submission,
                              text=f"Automated QC no longer finds this problem after {where}. QC will confirm.")
    return findings


@transaction.atomic
def series_qc_decide(*, actor: User, series: Series, status: str, reason: str, comment: str = "") -> Series:
    """A QC analyst passes or fails one series with a reason code (and a comment when failing)."""
    series = Series.objects.select_for_update(of=("self",)).select_related(
        "study__visit__participant__trial", "study__visit__participant__site").get(pk=series.pk)
    visit = series.study.visit
    require_qc(actor, visit)
    if status not in (QcStatus.PASSED, QcStatus.FAILED):
        raise ValidationError({"status": "Pass or fail the series."})
    if reason not in QcReason.values:
        raise ValidationError({"reason": "Choose a reason."})
    if status == QcStatus.FAILED and not comment.strip():
        raise ValidationError({"comment": "Say why the series fails."})
    if visit.state in (VisitState.ACCEPTED, VisitState.READ):
        raise DomainError("The visit is already accepted; raise a query to reopen it.")
    transition(SERIES_QC_MACHINE, series, status, actor=actor, trial=visit.participant.trial_id, reason=comment,
               fields={"qc_reason": reason},
               bookkeeping={"qc_comment": comment.strip(), "qc_by": actor, "qc_at": timezone.now()},
               data={"visit": str(visit)}, clean=True)
    if visit.state == VisitState.RECEIVED:
        visit_transition(actor=actor, visit=visit, state=VisitState.IN_QC, reason="QC review started")
    return series


def visit_acceptance_problems(visit: Visit) -> list[str]:
    """Why the visit cannot be accepted yet, in plain words (empty when it can)."""
    problems = []
    if visit.state not in (VisitState.RECEIVED, VisitState.IN_QC):
        problems.append("The visit has no images waiting for QC.")
    series = list(Series.objects.filter(study__visit=visit))
    if not series:
        problems.append("No series has been received.")
    pending = [s for s in series if s.qc_status == QcStatus.PENDING]
    if pending:
        problems.append(f"{len(pending)} series still need a pass or fail decision.")
    if series and not any(s.qc_status == QcStatus.PASSED for s in series):
        problems.append("No series has passed QC.")
    active = Query.objects.filter(visit=visit, state__in=QUERY_ACTIVE).count()
    if active:
        problems.append(f"{active} quer{'y is' if active == 1 else 'ies are'} still open or awaiting your review.")
    closed = set(Query.objects.filter(visit=visit, state__in=(QueryState.RESOLVED, QueryState.CANCELLED))
                 .values_list("cause_key", flat=True))
    unresolved = QcFinding.objects.filter(visit=visit, is_current=True, severity=Severity.BLOCKING).exclude(key__in=closed)
    if unresolved.exists():
        problems.append(f"{unresolved.count()} blocking finding(s) have no resolved query.")
    return problems


@transaction.atomic
def visit_qc_accept(*, actor: User, visit: Visit, comment: str = "") -> Visit:
    """Accept the visit's images as complete and compliant (the analyst's sign-off)."""
    visit = Visit.objects.select_for_update(of=("self",)).select_related("participant__trial", "participant__site").get(pk=visit.pk)
    require_qc(actor, visit)
    problems = visit_acceptance_problems(visit)
    if problems:
        raise DomainError(" ".join(problems))
    if visit.state == VisitState.RECEIVED:
        visit_transition(actor=actor, visit=visit, state=VisitState.IN_QC, reason="QC review")
    return visit_transition(actor=actor, visit=visit, state=VisitState.ACCEPTED, reason=comment or "QC accepted the visit")
