"""Submissions: open, receive files (multipart or resumable chunks), complete, and process each file.

Processing received files (`submission_files_process`) is the heart of the pipeline and is written to
be run twice: every step checks what is already done, outputs go to deterministic storage keys,
rows are unique on de-identified UIDs, and the quarantined original is removed only after the
transaction that records its de-identified copy has committed.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from audit.actions import AuditAction
from audit.services import audit_record, audit_record_many
from audit.transitions import transition
from ictms.lib.errors import DomainError
from ictms.lib.history import stamp
from imaging.archive import storage
from imaging.choices import (
    FILE_FINAL,
    FILE_MACHINE,
    SUBMISSION_MACHINE,
    FileReason,
    FileStatus,
    SubmissionState,
)
from imaging.deid import DeidError, EmptyFileError, SkippedFile, deidentify_file
from imaging.deid.budget import cpu_budget
from imaging.intake.deid_inputs import deid_context
from imaging.intake.files import (
    SIDE_FILE_FLAG,
    ArchiveLimits,
    ArchiveRefused,
    MemberRefused,
    extract_member,
    inspect_archive,
    is_side_file,
    iter_blocks,
    looks_like_zip,
    safe_display_name,
)
from imaging.models import Instance, Series, Study, Submission, SubmissionFile
from trials.choices import VisitState
from trials.models import Participant, Visit
from trials.services import require_site_perm, visit_transition

log = logging.getLogger(__name__)

PENDING = (FileStatus.UPLOADING, FileStatus.RECEIVED)
SIDE_FILE_WORDS = "side file (not an image)"
VISIT_READ_REASON = "the visit has been read since this file was sent: it takes no new images"
BATCH = 25  # files per processing task




def max_file_bytes() -> int:
    return settings.UPLOAD_MAX_FILE_MB * 2**20


def archive_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_total_bytes=settings.ZIP_MAX_TOTAL_MB * 2**20, max_members=settings.ZIP_MAX_MEMBERS,
        max_ratio=settings.ZIP_MAX_RATIO, max_member_bytes=max_file_bytes(),
    )


def _enqueue(file_ids: list[int]) -> None:
    """Queue the files for processing once the transaction commits (in batches of BATCH).

    The files are marked queued now: if the process dies between the commit and the hand-over
    to the broker, or the task is lost, the recovery sweep (imaging.intake.recovery) finds them.
    """
    from imaging.intake.tasks import submission_file_process_task

    if file_ids:
        SubmissionFile.objects.filter(pk__in=file_ids).update(queued_at=timezone.now(), attempts=F("attempts") + 1)
    for start in range(0, len(file_ids), BATCH):
        chunk = file_ids[start:start + BATCH]
        transaction.on_commit(functools.partial(submission_file_process_task.delay, chunk))


def _require_upload(actor: User, submission: Submission) -> None:
    require_site_perm(actor, "upload_images", submission.visit.participant.site)


def _require_open(submission: Submission) -> None:
    """New files only go to a receiving submission of a trial that accepts data (needs visit__participant__trial)."""
    if submission.state != SubmissionState.RECEIVING:
        raise DomainError("This submission is already complete; open a new submission to send more files.")
    refusal = submission.visit.participant.trial.data_refusal("no images can be submitted")
    if refusal:
        raise DomainError(refusal)


# --- opening and closing ----------------------------------------------------------------------

@transaction.atomic
def submission_open(*, actor: User, visit: Visit, comment: str = "", scan_date: dt.date | None = None) -> Submission:
    """Open a submission of images for one visit (site coordinator of the visit's site).

    A visit has at most one open submission: while one is still receiving files, opening again resumes
    it (returned as it is, nothing written) instead of leaving it abandoned beside a new one.
    """
    visit = Visit.objects.select_for_update(of=("self",), no_key=True).select_related(
        "participant__site", "participant__trial", "timepoint").get(pk=visit.pk)
    require_site_perm(actor, "upload_images", visit.participant.site)
    trial = visit.participant.trial
    refusal = visit.image_refusal()
    if refusal:
        raise DomainError(refusal)
    open_one = Submission.objects.filter(visit=visit, state=SubmissionState.RECEIVING).order_by("-opened_at").first()
    if open_one is not None:
        return open_one
    if scan_date and scan_date > timezone.localdate():
        raise ValidationError({"scan_date": "The scan date is in the future."})
    submission = Submission(visit=visit, opened_by=actor, comment=comment, scan_date=scan_date)
    submission.full_clean()
    stamp(submission, actor)
    submission.save()
    audit_record(actor=actor, action=AuditAction.SUBMISSION_OPEN, target=submission, trial=trial,
                 data={"visit": str(visit), "scan_date": scan_date, "comment": comment})
    return submission


@transaction.atomic
def submission_complete(*, actor: User, submission: Submission) -> Submission:
    """The site has sent everything: stop accepting files and finish once all are processed."""
    _require_upload(actor, submission)
    submission = Submission.objects.select_for_update(of=("self",), no_key=True).select_related("visit__participant__trial").get(pk=submission.pk)
    SUBMISSION_MACHINE.ensure(submission.state, SubmissionState.PROCESSING)
    abandoned = list(SubmissionFile.objects.filter(submission=submission, status=FileStatus.UPLOADING))
    for f in abandoned:
        _finish_file(f, FileStatus.REJECTED, "the upload of this file was not finished",
                     code=FileReason.UPLOAD_UNFINISHED, actor=actor)
    transition(SUBMISSION_MACHINE, submission, SubmissionState.PROCESSING, actor=actor,
               trial=submission.visit.participant.trial, bookkeeping={"completed_at": timezone.now()},
               action=AuditAction.SUBMISSION_COMPLETE,
               data={"files": SubmissionFile.objects.filter(submission=submission, parent__isnull=True).count(),
                     "unfinished_uploads": len(abandoned)})
    transaction.on_commit(lambda: submission_finish_if_processed(submission_id=submission.pk))
    return submission


@transaction.atomic
def submission_cancel(*, actor: User, submission: Submission, reason: str = "") -> Submission:
    """Cancel an empty submission the site opened and abandoned (a coordinator of the visit's site).

    Only a submission that is still receiving and holds no file at all can be cancelled: one that
    received anything is finished instead, so nothing the site sent disappears from the record.
    """
    _require_upload(actor, submission)
    submission = Submission.objects.select_for_update(of=("self",), no_key=True).select_related("visit__participant__trial").get(pk=submission.pk)
    SUBMISSION_MACHINE.ensure(submission.state, SubmissionState.CANCELLED)
    if SubmissionFile.objects.filter(submission=submission).exists():
        raise DomainError("This submission has received files: finish it instead of cancelling it.")
    transition(SUBMISSION_MACHINE, submission, SubmissionState.CANCELLED, actor=actor,
               trial=submission.visit.participant.trial, bookkeeping={"finished_at": timezone.now()},
               action=AuditAction.SUBMISSION_CANCEL, reason=reason or "empty submission cancelled by the site")
    return submission


def submission_finish_if_processed(*, submission_id: int) -> Submission:
    """Once complete and every file is processed: done (or failed if nothing usable arrived)."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update(of=("self",), no_key=True).select_related("visit__participant__trial").get(pk=submission_id)
        if submission.state != SubmissionState.PROCESSING:
            return submission
        if SubmissionFile.objects.filter(submission=submission, status__in=PENDING).exists():
            return submission
        usable = SubmissionFile.objects.filter(
            submission=submission, status__in=(FileStatus.DEIDENTIFIED, FileStatus.DUPLICATE)).exists()
        new = SubmissionFile.objects.filter(submission=submission, status=FileStatus.DEIDENTIFIED).exists()
        state = SubmissionState.DONE if usable else SubmissionState.FAILED
        # The trail shows the submission's steps with these counts; its per-file events stay one click away.
        counts = {str(status): n for status, n in SubmissionFile.objects.filter(submission=submission)
                  .exclude(status=FileStatus.EXPANDED).values_list("status").annotate(n=Count("id")).order_by("status")}
        transition(SUBMISSION_MACHINE, submission, state, actor=None, trial=submission.visit.participant.trial,
                   bookkeeping={"finished_at": timezone.now()}, action=AuditAction.SUBMISSION_FINISH,
                   data={"files": counts})
        if new:
            _visit_received(submission)
            from imaging.qc.tasks import visit_qc_run_task

            transaction.on_commit(lambda: visit_qc_run_task.delay(submission.visit_id, submission.pk))
        transaction.on_commit(lambda: quarantine_cleanup(submission_id=submission_id))
    return submission


def _visit_received(submission: Submission) -> None:
    """New images move the visit (back) to received, so QC looks at it again.

    A visit that stopped taking images while the files were processed (accepted with no
    re-upload asked for any more, or read) keeps its state: finishing the submission must not
    fail, or it would stay processing for ever (bug B2 of issue #9). `_record_batch` already
    refuses the files of a read visit, so normally nothing new arrives for one.
    """
    visit = Visit.objects.select_for_update(no_key=True).get(pk=submission.visit_id)
    if not visit.takes_images:
        return
    visit_transition(actor=submission.opened_by, visit=visit, state=VisitState.RECEIVED,
                     scan_date=submission.scan_date or visit.scan_date, reason=f"images received in submission {submission.pk}")


# --- receiving files ----------------------------------------------------------------------------

def _next_ordinal(submission: Submission) -> int:
    top = SubmissionFile.objects.filter(submission=submission, parent__isnull=True).aggregate(m=Max("ordinal"))["m"]
    return (top or 0) + 1


_FILE_ACTIONS = {
    FileStatus.DEIDENTIFIED: AuditAction.SUBMISSION_FILE_DEIDENTIFY, FileStatus.DUPLICATE: AuditAction.SUBMISSION_FILE_DUPLICATE,
    FileStatus.REJECTED: AuditAction.SUBMISSION_FILE_REJECT, FileStatus.SKIPPED: AuditAction.SUBMISSION_FILE_SKIP,
    FileStatus.EXPANDED: AuditAction.SUBMISSION_FILE_EXPAND,
}


def _finish_file(f: SubmissionFile, status: str, reason: str = "", *, code: str = "",
                 actor: User | None = None, instance: Instance | None = None, flags: list[str] | None = None,
                 audit: list[dict[str, Any]] | None = None, deferred: list[SubmissionFile] | None = None) -> None:
    """Record a file's final outcome and audit it (inside the caller's transaction).

    `reason` is the site's wording, `code` (a FileReason) what QC and reports read; a rejected
    or skipped file needs both. With `audit` / `deferred` lists, the audit event and the row's
    save are collected for the caller to write in bulk (a batch of files then costs a few
    statements, not a few per file); each move is still checked against FILE_MACHINE here,
    one file at a time.
    """
    if status in (FileStatus.REJECTED, FileStatus.SKIPPED) and not (code and reason):
        raise ValueError(f"A {status} file needs a reason code and its words.")
    values: dict[str, Any] = {"reason": reason[:255], "reason_code": code, "processed_at": timezone.now()}
    if instance is not None:
        values["stored_instance"] = instance
    if flags is not None:
        values["flags"] = flags
    data: dict[str, Any] = {"submission": f.submission_id, "file": f.display_name or f"file {f.ordinal}"}
    if code:
        data["reason_code"] = code
    if instance is not None:
        data["sop_instance_uid"] = instance.sop_uid
    trial_id = f.submission.visit.participant.trial_id
    action = _FILE_ACTIONS[FileStatus(status)]
    event = {"actor": actor, "action": action, "target": f, "trial": trial_id,
             "reason": reason, "changes": {"status": [f.status, status]}, "data": data}
    if deferred is not None:
        FILE_MACHINE.ensure(f.status, status)
        f.status = status
        for name, value in values.items():
            setattr(f, name, value)
        stamp(f, actor, reason)
        deferred.append(f)
    else:
        transition(FILE_MACHINE, f, status, actor=actor, trial=trial_id, reason=reason, bookkeeping=values,
                   action=action, data=data, audit=audit is None)
    if audit is not None:
        audit.append(event)  # written with the rest of the batch
    if status in FILE_FINAL and status != FileStatus.EXPANDED:
        path = storage.quarantine_path(f.submission_id, f.pk)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def _finish_locked(f: SubmissionFile, status: str, reason: str, code: str) -> None:
    """Lock the file and record its outcome, unless a redelivery of the task recorded one already."""
    with transaction.atomic():
        locked = _locked(f)
        if locked.status not in FILE_FINAL:
            _finish_file(locked, status, reason, code=code)


def _received(f: SubmissionFile, actor: User, received_bytes: int) -> None:
    transition(FILE_MACHINE, f, FileStatus.RECEIVED, actor=actor, trial=f.submission.visit.participant.trial_id,
               bookkeeping={"received_bytes": received_bytes}, action=AuditAction.SUBMISSION_FILE_RECEIVE,
               data={"submission": f.submission_id, "file": f.display_name, "bytes": f.size})


@transaction.atomic
def submission_files_add(*, actor: User, submission: Submission, uploads: list[Any]) -> list[SubmissionFile]:
    """Receive whole files (multipart API). Each upload is moved into quarantine, then processed."""
    _require_upload(actor, submission)
    submission = Submission.objects.select_for_update(of=("self",), no_key=True).select_related("visit__participant__trial").get(pk=submission.pk)
    _require_open(submission)
    if not uploads:
        raise ValidationError({"files": "Send at least one file."})
    ordinal = _next_ordinal(submission)
    rows, pending = [], []
    for upload in uploads:
        too_big = upload.size > max_file_bytes()
        rows.append(SubmissionFile(
            submission=submission, ordinal=ordinal, size=upload.size, received_bytes=0 if too_big else upload.size,
            status=FileStatus.UPLOADING if too_big else FileStatus.RECEIVED,
            display_name=safe_display_name(getattr(upload, "name", ""), fallback=f"file {ordinal}"),
            flags=_name_flags(getattr(upload, "name", ""))))
        ordinal += 1
        pending.append(None if too_big else _into_quarantine(submission, upload))
    # One INSERT for the rows and one for their history: a script may send hundreds of files at once.
    created = bulk_create_with_history(rows, SubmissionFile, default_user=actor)
    if any(f.pk is None for f in created):  # a database that does not return ids from bulk inserts
        created = list(SubmissionFile.objects.filter(submission=submission, parent__isnull=True,
                                                    ordinal__gte=rows[0].ordinal).order_by("ordinal"))
    trial_id = submission.visit.participant.trial_id
    events: list[dict[str, Any]] = []
    to_process: list[int] = []
    for f, path in zip(created, pending, strict=True):
        f.submission = submission
        if path is None:
            _finish_file(f, FileStatus.REJECTED, f"larger than the {settings.UPLOAD_MAX_FILE_MB} MB limit",
                         code=FileReason.TOO_LARGE, actor=actor, audit=events)
            continue
        os.replace(path, storage.quarantine_path(submission.pk, f.pk))
        events.append({"actor": actor, "action": AuditAction.SUBMISSION_FILE_RECEIVE, "target": f, "trial": trial_id,
                       "data": {"submission": submission.pk, "file": f.display_name, "bytes": f.size}})
        to_process.append(f.pk)
    audit_record_many(events)
    _enqueue(to_process)
    return created


def _name_flags(name: str) -> list[str]:
    """What the file's real name tells, kept while the name itself is not (a side file of an export)."""
    return [SIDE_FILE_FLAG] if is_side_file(name) else []


def _is_side_file(f: SubmissionFile) -> bool:
    return SIDE_FILE_FLAG in (f.flags or [])


def _into_quarantine(submission: Submission, upload: Any) -> Path:
    """Put an uploaded file in the submission's quarantine folder under a temporary name."""
    pending = storage.quarantine_dir() / f"s{submission.pk}" / f"incoming-{uuid.uuid4().hex}"
    pending.parent.mkdir(parents=True, exist_ok=True)
    temporary = getattr(upload, "temporary_file_path", None)
    try:
        # Spilled to disk by Django (same volume): move it instead of copying.
        os.replace(temporary(), pending) if temporary else _copy_upload(upload, pending)
    except OSError:
        _copy_upload(upload, pending)
    return pending


def _copy_upload(upload: Any, target: Path) -> None:
    with open(target, "wb") as out:
        out.writelines(upload.chunks(1 << 20))


@transaction.atomic
def submission_upload_start(*, actor: User, submission: Submission, client_key: str, name: str, size: int) -> SubmissionFile:
    """Register one file of a resumable upload, or find it again to resume (same client key)."""
    _require_upload(actor, submission)
    submission = Submission.objects.select_for_update(of=("self",), no_key=True).select_related("visit__participant__trial").get(pk=submission.pk)
    existing = SubmissionFile.objects.filter(submission=submission, client_key=client_key).first() if client_key else None
    if existing is not None:
        if existing.size != size:
            raise ValidationError({"size": "This file was registered with another size; it changed since."})
        return existing
    _require_open(submission)
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": "A client key of 1-64 characters identifies the file for resuming."})
    if size < 0:
        raise ValidationError({"size": "Invalid size."})
    ordinal = _next_ordinal(submission)
    f = SubmissionFile(submission=submission, ordinal=ordinal, client_key=client_key, size=size,
                       display_name=safe_display_name(name, fallback=f"file {ordinal}"), flags=_name_flags(name))
    stamp(f, actor)
    f.save()
    if size > max_file_bytes():
        _finish_file(f, FileStatus.REJECTED, f"larger than the {settings.UPLOAD_MAX_FILE_MB} MB limit",
                     code=FileReason.TOO_LARGE, actor=actor)
    elif size == 0 and _is_side_file(f):  # an empty LOCKFILE or read-me: nothing wrong with the export
        _finish_file(f, FileStatus.SKIPPED, SIDE_FILE_WORDS, code=FileReason.SIDE_FILE, actor=actor)
    elif size == 0:
        _finish_file(f, FileStatus.REJECTED, "empty file", code=FileReason.EMPTY, actor=actor)
    else:
        storage.quarantine_path(submission.pk, f.pk).touch()
    return f


class OffsetMismatch(DomainError):
    """The chunk does not start where the server's copy ends; the client resumes from `offset`."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"This file continues at byte {offset}.")
        self.offset = offset


def submission_upload_append(*, actor: User, upload: SubmissionFile, offset: int, stream: BinaryIO,
                             length: int) -> SubmissionFile:
    """Append one chunk at `offset` (streamed to the quarantine file, never held whole in memory)."""
    _require_upload(actor, upload.submission)
    with transaction.atomic():
        f = SubmissionFile.objects.select_for_update(of=("self",)).select_related("submission__visit__participant__trial").get(pk=upload.pk)
        if f.status != FileStatus.UPLOADING:
            return f  # already complete: a retried last chunk is harmless
        if f.submission.state != SubmissionState.RECEIVING:
            raise DomainError("This submission is already complete; open a new submission to send more files.")
        if offset != f.received_bytes:
            raise OffsetMismatch(f.received_bytes)
        if length <= 0 or offset + length > f.size:
            raise ValidationError({"content_range": f"The chunk must lie within the file's {f.size} bytes."})
        path = storage.quarantine_path(f.submission_id, f.pk)
        written = 0
        with open(path, "r+b" if path.exists() else "wb") as out:
            out.seek(offset)
            for block in iter_blocks(stream, length):
                out.write(block)
                written += len(block)
            out.truncate(offset + written)
        if written != length:
            # The connection dropped mid-chunk: keep what arrived, the client resumes from there.
            f.received_bytes = offset + written
            f.save(update_fields=["received_bytes"])
            return f
        if offset + written == f.size:
            _received(f, actor, offset + written)
            _enqueue([f.pk])
        else:
            f.received_bytes = offset + written
            f.save(update_fields=["received_bytes"])
        return f


# --- processing -------------------------------------------------------------------------------

def submission_files_process(*, file_ids: list[int]) -> None:
    """Process a batch of received files of one submission (what one Celery task does).

    Archives are unpacked one by one. DICOM files are de-identified first (CPU, no database),
    their outputs written to storage, and then recorded together in one transaction: the
    batch costs one commit and one lock of the submission and participant, not one per file.
    """
    files = list(SubmissionFile.objects.filter(pk__in=file_ids, status=FileStatus.RECEIVED).select_related(
        "submission__visit__participant__trial", "submission__visit__participant__site", "submission__visit__timepoint",
    ).order_by("id"))
    touched: set[int] = set()
    prepared: list[tuple[SubmissionFile, Any, Path]] = []
    try:
        for f in files:
            touched.add(f.submission_id)
            source = storage.quarantine_path(f.submission_id, f.pk)
            try:
                if not source.exists():
                    _finish_locked(f, FileStatus.REJECTED, "the uploaded data was lost; please send this file again",
                                   FileReason.DATA_LOST)
                elif looks_like_zip(source):
                    _process_archive(f, source)
                else:
                    outcome = _deidentify(f, source)
                    if outcome is not None:
                        prepared.append(outcome)
            except DatabaseError:
                raise  # the task retries: nothing about the file is known to be wrong
            except Exception:
                # Whatever else a crafted file makes fail is refused for this file alone, so no file stays
                # "received" for ever and the submission still finishes; the traceback is for the core lab.
                log.exception("Processing file %s of submission %s failed", f.pk, f.submission_id)
                _reject_with_members(f, UNEXPECTED_WORDS, FileReason.UNREADABLE)
        by_submission: dict[int, list[tuple[SubmissionFile, Any, Path]]] = {}
        for item in prepared:
            by_submission.setdefault(item[0].submission_id, []).append(item)
        for batch in by_submission.values():
            _record_batch(batch)
    finally:
        for _f, _result, output in prepared:
            output.unlink(missing_ok=True)
    for submission_id in touched:
        submission_finish_if_processed(submission_id=submission_id)


NESTED_ARCHIVE_WORDS = "nested archives are not accepted; unpack the inner archive first"
UNEXPECTED_WORDS = "could not be processed (an error on our side, logged for the core lab); please send this file again"


def _reject_with_members(f: SubmissionFile, reason: str, code: str) -> None:
    """Refuse the file and, if it is an archive, every member of it not finished yet."""
    with transaction.atomic():
        for child in SubmissionFile.objects.select_for_update().filter(parent=f).exclude(status__in=FILE_FINAL):
            _finish_file(child, FileStatus.REJECTED, "part of a refused archive", code=FileReason.IN_REFUSED_ARCHIVE)
        _finish_locked(f, FileStatus.REJECTED, reason, code)


def _locked(f: SubmissionFile) -> SubmissionFile:
    return SubmissionFile.objects.select_for_update(of=("self",)).select_related("submission__visit__participant").get(pk=f.pk)


def _process_archive(f: SubmissionFile, source: Path) -> None:
    limits = archive_limits()
    if f.parent_id is not None:
        _finish_locked(f, FileStatus.REJECTED, NESTED_ARCHIVE_WORDS, FileReason.NESTED_ARCHIVE)
        return
    try:
        members = inspect_archive(source, limits)
    except ArchiveRefused as exc:
        _finish_locked(f, FileStatus.REJECTED, exc.reason, FileReason.ARCHIVE_REFUSED)
        return
    created: list[int] = []
    try:
        for member in members:
            child = SubmissionFile.objects.filter(parent=f, ordinal=member.index + 1).first()
            if child is None:
                child = SubmissionFile(submission_id=f.submission_id, parent=f, ordinal=member.index + 1,
                                       size=member.size, display_name=safe_display_name(f"{f.display_name}/{member.name}"),
                                       status=FileStatus.UPLOADING, flags=_name_flags(member.name))
                child.save()
            if child.status != FileStatus.UPLOADING:
                continue
            if member.is_system_file:
                _finish_locked(child, FileStatus.SKIPPED, "operating-system file, not an image", FileReason.SYSTEM_FILE)
                continue
            target = storage.quarantine_path(f.submission_id, child.pk)
            try:
                nested = extract_member(source, member, target, limits)
            except MemberRefused as exc:
                _finish_locked(child, FileStatus.REJECTED, exc.reason, FileReason.UNREADABLE)
                continue
            # Unpacking is not audited member by member: the parent's "expand" event counts them.
            transition(FILE_MACHINE, child, FileStatus.RECEIVED, actor=None, trial=None,
                       bookkeeping={"received_bytes": member.size}, audit=False)
            if nested or member.is_nested_archive:
                _finish_locked(child, FileStatus.REJECTED, NESTED_ARCHIVE_WORDS, FileReason.NESTED_ARCHIVE)
                continue
            created.append(child.pk)
    except ArchiveRefused as exc:
        # Declared sizes lied: nothing from this archive is used.
        _reject_with_members(f, exc.reason, FileReason.ARCHIVE_REFUSED)
        return
    with transaction.atomic():
        locked = _locked(f)
        if locked.status != FileStatus.RECEIVED:
            return
        pending = list(SubmissionFile.objects.filter(parent=f, status=FileStatus.RECEIVED).values_list("pk", flat=True))
        _finish_file(locked, FileStatus.EXPANDED, "", flags=[f"{len(members)} files"])
        transaction.on_commit(lambda: source.unlink(missing_ok=True))
        _enqueue(pending)


def _deidentify(f: SubmissionFile, source: Path) -> tuple[SubmissionFile, Any, Path] | None:
    """Run the engine on one file; refusals are recorded at once, results are returned for recording."""
    visit = f.submission.visit
    context = deid_context(trial=visit.participant.trial, participant=visit.participant, visit=visit)
    output = source.with_name(source.name + ".deid")
    try:
        with cpu_budget(settings.INTAKE_FILE_CPU_SECONDS):
            result = deidentify_file(source, output, context)
    except SkippedFile as exc:
        _finish_locked(f, FileStatus.SKIPPED, "DICOMDIR index file (not an image)" if exc.reason == "DICOMDIR" else exc.reason,
                       FileReason.NOT_AN_IMAGE)
        return None
    except DeidError as exc:
        if _is_side_file(f):
            # README.TXT, LOCKFILE, a CD viewer's files...: expected next to the images, so skipped (QC
            # never reports them). A file of such a name that is DICOM after all is processed as any other.
            _finish_locked(f, FileStatus.SKIPPED, SIDE_FILE_WORDS, FileReason.SIDE_FILE)
        else:
            _finish_locked(f, FileStatus.REJECTED, exc.reason,
                           FileReason.EMPTY if isinstance(exc, EmptyFileError) else FileReason.UNREADABLE)
        return None
    return f, result, output


def _patient_problem(submission: Submission, participant: Participant, key: str) -> str:
    """Check the file's patient against the submission's and the participant's (rows locked)."""
    if submission.patient_key and submission.patient_key != key:
        return "belongs to a different patient than the rest of this submission"
    if participant.patient_key and participant.patient_key != key:
        return "belongs to a different patient than earlier images of this participant"
    if not participant.patient_key and Participant.objects.filter(trial=participant.trial_id, patient_key=key).exclude(
            pk=participant.pk).exists():
        return "belongs to the patient of another participant of this trial"
    return ""


def _record_batch(batch: list[tuple[SubmissionFile, Any, Path]]) -> None:
    submission = batch[0][0].submission
    visit = submission.visit
    trial = visit.participant.trial
    uids = [result.sop_instance_uid for _f, result, _o in batch]
    existing = {i.sop_uid: i for i in Instance.objects.select_related("series__study").filter(sop_uid__in=uids)}
    # Only images of the expected patient are worth storing; the locked check below decides.
    current = Submission.objects.filter(pk=submission.pk).values_list("patient_key", flat=True).first()
    expected = current or Participant.objects.filter(pk=visit.participant_id).values_list("patient_key", flat=True).first() \
        or batch[0][1].original_patient_key
    keys: dict[str, str] = {}
    # Read before the outputs move into storage (projection images need their header again).
    spacings = {result.sop_instance_uid: _spacing(result, output) for _f, result, output in batch}
    for _f, result, output in batch:
        if result.sop_instance_uid in existing or result.sop_instance_uid in keys:
            continue
        if result.original_patient_key != expected:
            continue
        key = storage.instance_storage_key(trial_code=trial.code, study_uid=result.study_instance_uid,
                                           series_uid=result.series_instance_uid, sop_uid=result.sop_instance_uid)
        # Written before the rows: a row never points at a missing file. An orphan file from a
        # crash is rewritten with the same bytes when the task is redelivered.
        storage.store_instance_file(key, output)
        keys[result.sop_instance_uid] = key
    used: set[str] = set()
    events: list[dict[str, Any]] = []
    finished: list[SubmissionFile] = []
    with transaction.atomic():
        transaction.on_commit(lambda: _discard_unused(set(keys.values()) - used))
        # FOR NO KEY UPDATE: writers of the submission and participant still queue one behind the other, but
        # rows that merely reference them (files, audit-era inserts, FK checks) do not wait, so a transaction
        # holding the audit chain's lock and inserting such a row cannot deadlock with this one.
        locked_submission = Submission.objects.select_for_update(no_key=True).get(pk=submission.pk)
        participant = Participant.objects.select_for_update(no_key=True).get(pk=visit.participant_id)
        # Locked too: a visit that was read while these files were on their way takes none of them.
        read = Visit.objects.select_for_update(no_key=True).values_list("state", flat=True).get(pk=visit.pk) == VisitState.READ
        locked_files = {row.pk: row for row in SubmissionFile.objects.select_for_update(of=("self",)).select_related(
            "submission__visit__participant").filter(pk__in=[f.pk for f, _r, _o in batch])}
        studies: dict[str, Study] = {}
        series_cache: dict[str, Series] = {}
        planned: dict[str, tuple[SubmissionFile, Any, Instance]] = {}
        repeats: list[tuple[SubmissionFile, str]] = []  # the same image twice in this batch
        for unlocked, result, output in batch:
            f = locked_files[unlocked.pk]
            if f.status != FileStatus.RECEIVED:
                continue  # recorded by an earlier delivery of this task
            if read:
                _finish_file(f, FileStatus.REJECTED, VISIT_READ_REASON, code=FileReason.VISIT_READ, audit=events,
                             deferred=finished)
                continue
            problem = _patient_problem(locked_submission, participant, result.original_patient_key)
            if problem:
                _finish_file(f, FileStatus.REJECTED, problem, code=FileReason.OTHER_PATIENT, audit=events,
                             deferred=finished)
                continue
            if not locked_submission.patient_key:
                locked_submission.patient_key = result.original_patient_key
                locked_submission.save(update_fields=["patient_key"])
            if not participant.patient_key:
                participant.patient_key = result.original_patient_key
                participant.save(update_fields=["patient_key"])
            instance = existing.get(result.sop_instance_uid)
            if instance is not None:
                _finish_existing(f, instance, visit, audit=events, deferred=finished)
                continue
            if result.sop_instance_uid in planned:
                repeats.append((f, result.sop_instance_uid))
                continue
            study = studies.get(result.study_instance_uid)
            if study is None:
                found, problem = _study_for(result, visit)
                if found is None:
                    _finish_file(f, FileStatus.REJECTED, problem, code=FileReason.RECEIVED_ELSEWHERE, audit=events,
                                 deferred=finished)
                    continue
                study = studies[result.study_instance_uid] = found
            series = series_cache.get(result.series_instance_uid)
            if series is None:
                series = series_cache[result.series_instance_uid] = _series_for(result, study, submission)
            else:
                _flag_burned_in(series, result)
            stored_key = keys.get(result.sop_instance_uid)
            if stored_key is None:  # the patient check passed under the lock, but not before it: store now
                stored_key = keys[result.sop_instance_uid] = storage.instance_storage_key(
                    trial_code=trial.code, study_uid=result.study_instance_uid, series_uid=result.series_instance_uid,
                    sop_uid=result.sop_instance_uid)
                storage.store_instance_file(stored_key, output)
            planned[result.sop_instance_uid] = (f, result, _new_instance(
                result, series, stored_key, submission, spacings[result.sop_instance_uid]))
        created = _create_instances([obj for _f, _r, obj in planned.values()])
        for sop, (f, result, _obj) in planned.items():
            instance = created.get(sop)
            if instance is None:  # another worker recorded the same instance a moment ago
                _finish_existing(f, Instance.objects.select_related("series__study").get(sop_uid=sop), visit,
                                 audit=events, deferred=finished)
                continue
            existing[sop] = instance
            used.add(instance.storage_key)
            _finish_file(f, FileStatus.DEIDENTIFIED, instance=instance, flags=list(result.qc_flags), audit=events,
                         deferred=finished)
        for f, sop in repeats:
            _finish_existing(f, Instance.objects.select_related("series__study").get(sop_uid=sop), visit,
                             audit=events, deferred=finished)
        # Bulk writes that keep simple-history's rows (plain bulk_update would skip them).
        bulk_update_with_history(finished, SubmissionFile,
                                 ["status", "reason", "reason_code", "processed_at", "stored_instance", "flags"])
        audit_record_many(events)


def _discard_unused(keys: set[str]) -> None:
    """Remove stored outputs that no row ended up using (files refused after their output was written)."""
    for key in keys:
        if not Instance.objects.filter(storage_key=key).exists():
            storage.delete_instance_file(key)


_PROJECTION_MODALITIES = {"CR", "DX", "MG", "XA", "RF", "IO", "PX", "US"}


def _spacing(result: Any, output: Path) -> tuple[list[float] | None, str]:
    """Pixel spacing and where it came from (projection images may only have ImagerPixelSpacing)."""
    if result.pixel_spacing and result.modality not in _PROJECTION_MODALITIES:
        return list(result.pixel_spacing), "PixelSpacing"
    import pydicom

    from imaging.viewer.render import pixel_spacing

    ds = pydicom.dcmread(output, stop_before_pixels=True, force=True)
    spacing = pixel_spacing(ds)
    if spacing.source is None or spacing.row_mm is None or spacing.col_mm is None:
        return None, ""
    return [spacing.row_mm, spacing.col_mm], spacing.source


def _new_instance(result: Any, series: Series, key: str, submission: Submission,
                  spacing_and_source: tuple[list[float] | None, str]) -> Instance:
    spacing, source = spacing_and_source
    header = _header(result)
    header["PixelSpacingSource"] = source
    return Instance(
        series=series, sop_uid=result.sop_instance_uid, sop_class_uid=result.sop_class_uid,
        instance_number=result.instance_number, storage_key=key, sha256=result.sha256, size=result.size,
        transfer_syntax_uid=result.transfer_syntax_uid, rows=result.rows, columns=result.columns,
        number_of_frames=result.number_of_frames or 1, slice_thickness=result.slice_thickness,
        spacing_between_slices=result.spacing_between_slices, pixel_spacing=spacing,
        image_position=list(result.image_position_patient) if result.image_position_patient else None,
        image_orientation=list(result.image_orientation_patient) if result.image_orientation_patient else None,
        slice_location=result.slice_location, acquisition_date=_date(result.acquisition_date or result.series_date),
        contrast_agent=result.contrast_bolus_agent[:64], header=header, submission=submission,
        photometric_interpretation=result.photometric_interpretation[:16], bits_allocated=result.bits_allocated,
    )


def _create_instances(objs: list[Instance]) -> dict[str, Instance]:
    """Insert the batch's new instances (with history); one by one if another worker raced us."""
    if not objs:
        return {}
    try:
        with transaction.atomic():
            created = bulk_create_with_history(objs, Instance)
        if all(obj.pk for obj in created):
            return {obj.sop_uid: obj for obj in created}
        return {obj.sop_uid: obj for obj in Instance.objects.filter(sop_uid__in=[o.sop_uid for o in objs])}
    except IntegrityError:
        out = {}
        for obj in objs:
            try:
                with transaction.atomic():
                    obj.pk = None
                    obj.save()
                    out[obj.sop_uid] = obj
            except IntegrityError:
                continue
        return out


def _finish_existing(f: SubmissionFile, existing: Instance, visit: Visit, *, audit: list[dict[str, Any]] | None = None,
                     deferred: list[SubmissionFile] | None = None) -> None:
    if existing.series.study.visit_id != visit.pk:
        if existing.series.study.participant_id != visit.participant_id:
            _finish_file(f, FileStatus.REJECTED, "this image was already received for another participant of this trial",
                         code=FileReason.RECEIVED_ELSEWHERE, audit=audit, deferred=deferred)
        else:
            _finish_file(f, FileStatus.REJECTED, "this image was already received for another visit of this participant",
                         code=FileReason.RECEIVED_ELSEWHERE, audit=audit, deferred=deferred)
        return
    _finish_file(f, FileStatus.DUPLICATE, "already received, skipped", code=FileReason.ALREADY_RECEIVED, instance=existing,
                 audit=audit, deferred=deferred)


def _date(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value[:8], "%Y%m%d").date() if value else None
    except ValueError:
        return None


def _header(result: Any) -> dict[str, Any]:
    """De-identified header values kept for QC (the rest stays in the file)."""
    keep = ("modality", "series_number", "acquisition_number", "study_date", "series_date", "acquisition_date",
            "body_part_examined", "manufacturer", "manufacturer_model_name", "patient_sex", "patient_age", "bits_allocated",
            "has_contrast", "qc_flags", "private_elements_removed", "frame_of_reference_uid", "study_description",
            "series_description")
    data = result.as_dict()
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items() if k in keep}


def _study_for(result: Any, visit: Visit) -> tuple[Study | None, str]:
    study = Study.objects.filter(study_uid=result.study_instance_uid).first()
    if study is not None:
        if study.visit_id != visit.pk:
            return None, "this study was already received for another visit"
        return study, ""
    try:
        with transaction.atomic():
            study = Study.objects.create(
                participant_id=visit.participant_id, visit=visit, study_uid=result.study_instance_uid,
                study_date=_date(result.study_date), description=result.study_description[:255],
                study_time=result.study_time[:16], patient_sex=result.patient_sex[:16],
            )
    except IntegrityError:
        study = Study.objects.get(study_uid=result.study_instance_uid)
        if study.visit_id != visit.pk:
            return None, "this study was already received for another visit"
    return study, ""


def _series_for(result: Any, study: Study, submission: Submission) -> Series:
    series = Series.objects.filter(series_uid=result.series_instance_uid).first()
    if series is not None:
        _flag_burned_in(series, result)
        return series
    flagged, why = _burned_in(result)
    try:
        with transaction.atomic():
            return Series.objects.create(
                study=study, series_uid=result.series_instance_uid, modality=result.modality[:16],
                series_number=result.series_number, description=result.series_description[:255],
                body_part=result.body_part_examined[:64], frame_of_reference_uid=result.frame_of_reference_uid[:64],
                burned_in_annotation=flagged, burned_in_reason=why, first_submission=submission,
            )
    except IntegrityError:
        return Series.objects.get(series_uid=result.series_instance_uid)


_FLAG_TEXT = {
    "burned_in_annotation": "the file declares burned-in annotation",
    "recognizable_visual_features": "the file declares recognizable visual features",
    "ultrasound": "ultrasound images often carry burned-in text",
    "secondary_capture": "screen captures often carry burned-in text",
}


def _burned_in(result: Any) -> tuple[bool, str]:
    reasons = [_FLAG_TEXT[flag] for flag in result.qc_flags if flag in _FLAG_TEXT]
    return bool(reasons), "; ".join(reasons)[:255]


def _flag_burned_in(series: Series, result: Any) -> None:
    flagged, why = _burned_in(result)
    if flagged and not series.burned_in_annotation:
        series.burned_in_annotation = True
        series.burned_in_reason = why
        series.save(update_fields=["burned_in_annotation", "burned_in_reason"])


def quarantine_cleanup(*, submission_id: int) -> None:
    """Remove a finished submission's quarantine folder (originals are deleted one by one already)."""
    folder = storage.quarantine_dir() / f"s{submission_id}"
    if folder.exists() and not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


