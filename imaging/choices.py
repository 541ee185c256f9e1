"""Choices and state machines of the imaging app (one StateMachine per stored state field)."""
from django.db import models

from audit.actions import AuditAction
from ictms.lib.states import StateMachine


class SubmissionState(models.TextChoices):
    RECEIVING = "receiving", "Receiving"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Completing moves receiving -> processing; the last processed file ends it done (something
# usable arrived) or failed. An empty one the site abandoned can be cancelled instead. The completing,
# finishing and cancelling moves have audit names of their own.
SUBMISSION_MACHINE = StateMachine.build(
    name="submission", field="state", choices=SubmissionState, audit_action=AuditAction.SUBMISSION_STATE_CHANGE,
    transitions={
        SubmissionState.RECEIVING: {SubmissionState.PROCESSING, SubmissionState.CANCELLED},
        SubmissionState.PROCESSING: {SubmissionState.DONE, SubmissionState.FAILED},
    },
)


class FileStatus(models.TextChoices):
    UPLOADING = "uploading", "Uploading"
    RECEIVED = "received", "Received"
    DEIDENTIFIED = "deidentified", "De-identified"
    DUPLICATE = "duplicate", "Duplicate (already received, skipped)"
    REJECTED = "rejected", "Rejected"
    SKIPPED = "skipped", "Skipped"
    EXPANDED = "expanded", "Archive unpacked"


# A resumable upload or an archive member starts uploading; a whole file (or the last chunk)
# makes it received. Refusals can come before receipt (too large, empty, unfinished, an
# operating-system file in an archive); processing gives every received file its outcome.
FILE_MACHINE = StateMachine.build(
    name="submission_file", field="status", choices=FileStatus, audit_action=AuditAction.SUBMISSION_FILE_STATUS_CHANGE,
    transitions={
        FileStatus.UPLOADING: {FileStatus.RECEIVED, FileStatus.REJECTED, FileStatus.SKIPPED},
        FileStatus.RECEIVED: {FileStatus.DEIDENTIFIED, FileStatus.DUPLICATE, FileStatus.REJECTED, FileStatus.SKIPPED,
                              FileStatus.EXPANDED},
    },
)
class FileReason(models.TextChoices):
    """Why a file was rejected, skipped or not stored again (SubmissionFile.reason_code).

    Consumers (QC, reports) read this code; `SubmissionFile.reason` keeps the words shown to the site.
    """

    TOO_LARGE = "too_large", "Larger than the upload limit"
    EMPTY = "empty", "Empty file"
    UPLOAD_UNFINISHED = "upload_unfinished", "Upload not finished"
    DATA_LOST = "data_lost", "Uploaded data lost"
    NESTED_ARCHIVE = "nested_archive", "Archive inside an archive"
    ARCHIVE_REFUSED = "archive_refused", "Archive refused"
    IN_REFUSED_ARCHIVE = "in_refused_archive", "Part of a refused archive"
    SYSTEM_FILE = "system_file", "Operating-system file"
    SIDE_FILE = "side_file", "Side file of an export (read-me, index, CD viewer)"
    NOT_AN_IMAGE = "not_an_image", "Not an image (DICOMDIR index)"
    UNREADABLE = "unreadable", "Cannot be read or de-identified"
    OTHER_PATIENT = "other_patient", "Images of another patient"
    RECEIVED_ELSEWHERE = "received_elsewhere", "Already received for another visit or participant"
    ALREADY_RECEIVED = "already_received", "Already received (duplicate)"
    VISIT_READ = "visit_read", "The visit has been read since the file was sent"


# Rejections about the patient, the visit or an unfinished upload, not about what the file holds:
# automated QC does not report these files as unreadable (the site was told already).
FILE_REASONS_NOT_ABOUT_CONTENT = frozenset({
    FileReason.OTHER_PATIENT, FileReason.RECEIVED_ELSEWHERE, FileReason.UPLOAD_UNFINISHED, FileReason.VISIT_READ,
})


# A file in one of these states will not change again.
FILE_FINAL = frozenset(FileStatus(s) for s in FILE_MACHINE.states if FILE_MACHINE.is_terminal(s))


class MeasurementKind(models.TextChoices):
    LINE = "line", "Caliper (line)"
    BIDIRECTIONAL = "bidirectional", "Bidirectional (long and short axis)"


class QcStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


# A QC analyst may decide a series again (another outcome, reason or comment) until the visit
# is accepted; nothing goes back to pending.
SERIES_QC_MACHINE = StateMachine.build(
    name="series_qc", field="qc_status", choices=QcStatus, audit_action=AuditAction.SERIES_QC_DECIDE,
    transitions={
        QcStatus.PENDING: {QcStatus.PASSED, QcStatus.FAILED},
        QcStatus.PASSED: {QcStatus.PASSED, QcStatus.FAILED},
        QcStatus.FAILED: {QcStatus.PASSED, QcStatus.FAILED},
    },
)


class QcReason(models.TextChoices):
    """Why a QC analyst passed or failed a series (the reason code of the decision)."""

    MEETS_PROTOCOL = "meets_protocol", "Meets the protocol"
    ACCEPTED_DEVIATION = "accepted_deviation", "Deviation accepted"
    PROTOCOL_DEVIATION = "protocol_deviation", "Protocol deviation"
    IMAGE_QUALITY = "image_quality", "Image quality (artefacts, noise, motion)"
    INCOMPLETE = "incomplete", "Incomplete coverage or missing slices"
    WRONG_SERIES = "wrong_series", "Not the series the protocol asks for"
    BURNED_IN_PHI = "burned_in_phi", "Identifying text in the image"
    NOT_NEEDED = "not_needed", "Not needed for the read"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    BLOCKING = "blocking", "Blocking"
    WARNING = "warning", "Warning"
    INFO = "info", "Information"


class QueryState(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    RESOLVED = "resolved", "Resolved"
    CANCELLED = "cancelled", "Cancelled"


# design.md: open -> answered -> resolved, answered -> open (reopen), open -> cancelled. Each
# move is audited under the name of its action ("query.answer", "query.reopen", ...).
QUERY_MACHINE = StateMachine.build(
    name="query", field="state", choices=QueryState, audit_action=AuditAction.QUERY_STATE_CHANGE,
    transitions={
        QueryState.OPEN: {QueryState.ANSWERED, QueryState.CANCELLED},
        QueryState.ANSWERED: {QueryState.RESOLVED, QueryState.OPEN},
    },
)
QUERY_ACTIVE = {QueryState.OPEN, QueryState.ANSWERED}

# Query age buckets (days), shared by the filters, the API and the dashboard.
AGE_BUCKETS = {"0-7": (0, 7), "8-14": (8, 14), "15-30": (15, 30), "31+": (31, None)}


def age_bucket(days: int) -> int:
    """Index of the AGE_BUCKETS entry that holds `days`."""
    for index, (low, high) in enumerate(AGE_BUCKETS.values()):
        if days >= low and (high is None or days <= high):
            return index
    return 0


class QueryCategory(models.TextChoices):
    MISSING_IMAGES = "missing_images", "Missing images or series"
    ACQUISITION = "acquisition", "Acquisition parameters (protocol)"
    IMAGE_QUALITY = "image_quality", "Image quality"
    SCAN_DATE = "scan_date", "Scan date / visit window"
    IDENTITY = "identity", "Participant identity or study mix-up"
    BURNED_IN = "burned_in", "Identifying text in images"
    OTHER = "other", "Other"


class QueryAction(models.TextChoices):
    RAISE = "raise", "Raised"
    ANSWER = "answer", "Answered"
    AUTO_ANSWER = "auto_answer", "Answered by a re-upload"
    RESOLVE = "resolve", "Resolved"
    REOPEN = "reopen", "Reopened"
    CANCEL = "cancel", "Cancelled"
