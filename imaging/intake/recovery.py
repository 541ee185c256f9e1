"""Crash recovery of intake: what a killed web process, worker or database connection left behind.

`intake_recover` is run by Celery beat every few minutes, by each worker when it starts, by
`python manage.py recover_intake`, and by `make run` before the embedded server starts. It is
idempotent and safe beside running workers (processing a file twice stores it once):

1. A file queued more than INTAKE_STUCK_MINUTES ago and still waiting (its task was lost, or the
   process died between the commit and the hand-over to the broker) is queued again; after
   INTAKE_MAX_ATTEMPTS it is refused in plain words, so it never waits for ever.
2. A completed submission whose files are all finished, but which never finished itself (the
   process died in between), finishes now (and its automated QC runs).
3. The quarantine janitor removes every identified original whose file is finished or gone, and
   the half-written leftovers of a request or task that died (older than the timeout).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_record
from imaging.archive import storage
from imaging.choices import FileReason, FileStatus, SubmissionState
from imaging.intake import services
from imaging.models import Submission, SubmissionFile

log = logging.getLogger(__name__)

WAITING = (FileStatus.UPLOADING, FileStatus.RECEIVED)


def _gave_up_words(attempts: int) -> str:
    return (f"could not be processed after {attempts} attempts (processing stopped each time); please send this "
            "file again, and tell the core lab if it happens again")


@dataclass
class RecoveryReport:
    requeued: int = 0
    refused: int = 0
    finished: int = 0
    removed: int = 0
    submissions: set[int] = field(default_factory=set)

    def __str__(self) -> str:
        return (f"{self.requeued} file(s) queued again, {self.refused} refused after too many attempts, "
                f"{self.finished} submission(s) finished, {self.removed} quarantine file(s) removed")


def intake_recover(*, now: dt.datetime | None = None) -> RecoveryReport:
    """One sweep of the three repairs above (the system acts: there is no user)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.INTAKE_STUCK_MINUTES)
    report = RecoveryReport()
    _requeue_stuck_files(cutoff, report)
    _finish_stuck_submissions(cutoff, report)
    report.removed = quarantine_janitor(cutoff=cutoff)
    if report.requeued or report.refused or report.finished or report.removed:
        log.warning("Intake recovery: %s", report)
    return report


def _requeue_stuck_files(cutoff: dt.datetime, report: RecoveryReport) -> None:
    stuck = list(SubmissionFile.objects.filter(status=FileStatus.RECEIVED).filter(
        Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True, created_at__lt=cutoff))
        .select_related("submission__visit__participant").order_by("id"))
    by_submission: dict[int, list[SubmissionFile]] = {}
    for f in stuck:
        by_submission.setdefault(f.submission_id, []).append(f)
    for submission_id, files in by_submission.items():
        with transaction.atomic():
            again = [f for f in files if f.attempts < settings.INTAKE_MAX_ATTEMPTS]
            given_up = [f for f in files if f.attempts >= settings.INTAKE_MAX_ATTEMPTS]
            for f in given_up:
                services._reject_with_members(f, _gave_up_words(f.attempts), FileReason.UNREADABLE)
            services._enqueue([f.pk for f in again])
            submission = files[0].submission
            audit_record(actor=None, action=AuditAction.SUBMISSION_RECOVER, target=submission,
                         trial=submission.visit.participant.trial_id,
                         data={"queued_again": len(again), "refused": len(given_up)},
                         reason="files waited too long for processing")
        report.requeued += len(again)
        report.refused += len(given_up)
        report.submissions.add(submission_id)
        if given_up and not again:
            transaction.on_commit(lambda sid=submission_id: services.submission_finish_if_processed(submission_id=sid))


def _finish_stuck_submissions(cutoff: dt.datetime, report: RecoveryReport) -> None:
    waiting = SubmissionFile.objects.filter(status__in=WAITING).values("submission_id")
    stuck = (Submission.objects.filter(state=SubmissionState.PROCESSING, completed_at__lt=cutoff)
             .exclude(pk__in=waiting).values_list("pk", flat=True))
    for submission_id in stuck:
        if services.submission_finish_if_processed(submission_id=submission_id).state != SubmissionState.PROCESSING:
            report.finished += 1
            report.submissions.add(submission_id)


def quarantine_janitor(*, cutoff: dt.datetime) -> int:
    """Remove identified data no unfinished file needs: originals of finished (or unknown) files, and
    half-written leftovers older than `cutoff`. Returns the number of files removed."""
    root = storage.quarantine_dir()
    removed = 0
    folders = {p: p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("s") and p.name[1:].isdigit()}
    ids = {int(name[1:]) for name in folders.values()}
    needed = set(SubmissionFile.objects.filter(submission_id__in=ids, status__in=WAITING).values_list("pk", flat=True))
    still_open = set(Submission.objects.filter(pk__in=ids, state__in=(SubmissionState.RECEIVING, SubmissionState.PROCESSING))
                     .values_list("pk", flat=True))
    old = cutoff.timestamp()
    for folder, name in folders.items():
        for path in folder.iterdir():
            # Only what has not been written for a while: a file being received now may not be committed
            # yet (its row is invisible here), and a task may be writing its output beside it.
            if not path.is_file() or path.stat().st_mtime >= old:
                continue
            if path.name.startswith("f") and path.name[1:].isdigit() and int(path.name[1:]) in needed:
                continue
            path.unlink(missing_ok=True)  # a finished or unknown file's original, or a dead writer's leftover
            removed += 1
        if int(name[1:]) not in still_open and not any(folder.iterdir()):
            folder.rmdir()
    return removed
