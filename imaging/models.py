"""Submissions and their files, the de-identified Study / Series / Instance, and measurements.

Nothing here holds PHI: UIDs are the de-identified ones, dates are shifted, file names are
scrubbed (`imaging.intake.files.safe_display_name`) and the patient is known only by a keyed hash.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from imaging.choices import (
    FILE_MACHINE,
    QUERY_MACHINE,
    SERIES_QC_MACHINE,
    SUBMISSION_MACHINE,
    FileReason,
    FileStatus,
    MeasurementKind,
    QcReason,
    QcStatus,
    QueryAction,
    QueryCategory,
    QueryState,
    Severity,
    SubmissionState,
)


class Submission(models.Model):
    visit = models.ForeignKey("trials.Visit", on_delete=models.PROTECT, related_name="submissions")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    comment = models.TextField(blank=True)
    scan_date = models.DateField(null=True, blank=True, help_text="Acquisition date as the site reports it (transmittal).")
    state = models.CharField(max_length=16, choices=SubmissionState.choices, default=SubmissionState.RECEIVING)
    completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Keyed hash of the identifying header values of the first file: later files of another
    # patient are refused without the patient's identity ever being stored.
    patient_key = models.CharField(max_length=64, blank=True, editable=False)
    history = HistoricalRecords(excluded_fields=["patient_key"])

    class Meta:
        ordering = ["-opened_at"]
        constraints = [SUBMISSION_MACHINE.check_constraint()]

    def __str__(self) -> str:
        return f"Submission {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state == SubmissionState.RECEIVING


class SubmissionFile(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="files")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    ordinal = models.PositiveIntegerField(help_text="Position in the submission (or in its archive).")
    client_key = models.CharField(max_length=64, blank=True, help_text="The uploader's id for a resumable upload.")
    display_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    received_bytes = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=FileStatus.choices, default=FileStatus.UPLOADING)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was rejected or skipped, in plain words.")
    reason_code = models.CharField(max_length=32, choices=FileReason.choices, blank=True,
                                   help_text="Why it was rejected or skipped, as a code for QC and reports.")
    # Not named "instance": simple-history reserves that name on historical models.
    stored_instance = models.ForeignKey("Instance", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    flags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Bookkeeping of the queue (not history): when processing was last asked for, and how often.
    # The recovery sweep re-queues a file that waited too long and refuses one that never got through.
    queued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords(excluded_fields=["queued_at", "attempts"])

    class Meta:
        ordering = ["submission", "parent_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "client_key"], condition=~Q(client_key=""), name="one_upload_per_client_key"),
            models.UniqueConstraint(fields=["parent", "ordinal"], condition=Q(parent__isnull=False), name="one_row_per_archive_member"),
            FILE_MACHINE.check_constraint(),
            models.CheckConstraint(condition=Q(reason_code__in=["", *FileReason.values]),
                                   name="submission_file_reason_code_valid"),
        ]
        indexes = [models.Index(fields=["submission", "status"]), models.Index(fields=["status", "queued_at"])]

    def __str__(self) -> str:
        return self.display_name or f"file {self.ordinal}"


class Study(models.Model):
    participant = models.ForeignKey("trials.Participant", on_delete=models.PROTECT, related_name="studies")
    visit = models.ForeignKey("trials.Visit", on_delete=models.PROTECT, related_name="studies")
    study_uid = models.CharField("Study Instance UID (de-identified)", max_length=64, unique=True)
    study_date = models.DateField(null=True, blank=True, help_text="Shifted by the participant's secret offset.")
    study_time = models.CharField(max_length=16, blank=True, help_text="As stored (shifted with the dates).")
    description = models.CharField(max_length=255, blank=True)
    patient_sex = models.CharField(max_length=16, blank=True, help_text="PatientSex of the stored files (M, F, O).")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "study_date", "id"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"Study {self.study_uid[-12:]}"


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="series")
    series_uid = models.CharField("Series Instance UID (de-identified)", max_length=64, unique=True)
    modality = models.CharField(max_length=16, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)
    burned_in_annotation = models.BooleanField(default=False, help_text="Flagged for QC: may show identifying text.")
    burned_in_reason = models.CharField(max_length=255, blank=True)
    first_submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="+")
    qc_status = models.CharField(max_length=16, choices=QcStatus.choices, default=QcStatus.PENDING)
    qc_reason = models.CharField(max_length=24, choices=QcReason.choices, blank=True)
    qc_comment = models.TextField(blank=True)
    qc_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    qc_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "series_number", "id"]
        verbose_name_plural = "series"
        constraints = [SERIES_QC_MACHINE.check_constraint(name="series_qc_status_valid")]

    def __str__(self) -> str:
        number = f"{self.series_number} " if self.series_number is not None else ""
        return f"Series {number}{self.description}".strip()


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="instances")
    sop_uid = models.CharField("SOP Instance UID (de-identified)", max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    storage_key = models.CharField(max_length=255, unique=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    transfer_syntax_uid = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    photometric_interpretation = models.CharField(max_length=16, blank=True)
    bits_allocated = models.PositiveSmallIntegerField(null=True, blank=True)
    slice_thickness = models.FloatField(null=True, blank=True)
    spacing_between_slices = models.FloatField(null=True, blank=True)
    pixel_spacing = models.JSONField(null=True, blank=True)
    image_position = models.JSONField(null=True, blank=True)
    image_orientation = models.JSONField(null=True, blank=True)
    slice_location = models.FloatField(null=True, blank=True)
    acquisition_date = models.DateField(null=True, blank=True)
    contrast_agent = models.CharField(max_length=64, blank=True)
    header = models.JSONField(default=dict, blank=True, help_text="Key de-identified header values used by QC.")
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="instances")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["series", "instance_number", "id"]

    def __str__(self) -> str:
        return f"Instance {self.instance_number if self.instance_number is not None else self.sop_uid[-8:]}"


class Measurement(models.Model):
    """A caliper drawn on an image, in image pixel coordinates, with its length in mm."""

    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="measurements")
    frame = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=MeasurementKind.choices, default=MeasurementKind.LINE)
    points = models.JSONField(help_text="[[x, y], [x, y]] (line) or four points (long axis, short axis), in image pixels.")
    length_mm = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    short_axis_mm = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    spacing_source = models.CharField(max_length=32, blank=True)
    label = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    is_deleted = models.BooleanField(default=False)
    # simple-history gives historical rows an `instance` property; the FK never changes anyway.
    history = HistoricalRecords(excluded_fields=["instance"])

    class Meta:
        ordering = ["instance", "created_at"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=MeasurementKind.values), name="measurement_kind_valid")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.length_mm} mm"


class QcRun(models.Model):
    """One run of automated QC on a visit, with what it concluded, as the review page shows it.

    The findings of the run point here; `matches` (which series serves which requirement, and
    why) and `measurements` (the header values behind the checks) are stored with it, so every
    page shows what the run found instead of recomputing it, and the two can never disagree.
    """

    visit = models.ForeignKey("trials.Visit", on_delete=models.PROTECT, related_name="qc_runs")
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.PROTECT, related_name="qc_runs")
    ran_at = models.DateTimeField(auto_now_add=True)
    findings = models.PositiveIntegerField(default=0)
    blocking = models.PositiveIntegerField(default=0)
    matches = models.JSONField(default=list, blank=True)
    measurements = models.JSONField(default=list, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "-id"]
        indexes = [models.Index(fields=["visit", "-id"])]

    def __str__(self) -> str:
        return f"QC run {self.pk} of {self.visit_id}"


class QcFinding(models.Model):
    """One result of automated QC for a visit (or one of its series). Recomputed on each upload."""

    visit = models.ForeignKey("trials.Visit", on_delete=models.PROTECT, related_name="qc_findings")
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.PROTECT, related_name="qc_findings")
    requirement = models.ForeignKey("trials.ImagingRequirement", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    run = models.ForeignKey(QcRun, null=True, blank=True, on_delete=models.PROTECT, related_name="finding_rows",
                            help_text="The run that found it (empty for findings stored before runs were).")
    code = models.CharField(max_length=48)
    key = models.CharField(max_length=255, help_text="Identifies the finding across QC runs (code, requirement, series, study).")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    is_current = models.BooleanField(default=True, help_text="False once a later QC run replaced it.")
    computed_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "-is_current", "id"]
        indexes = [models.Index(fields=["visit", "is_current"])]
        constraints = [models.CheckConstraint(condition=Q(severity__in=Severity.values), name="qc_finding_severity_valid")]

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"


class Query(models.Model):
    """A question from the core lab to a site about one visit's images, with its thread."""

    visit = models.ForeignKey("trials.Visit", on_delete=models.PROTECT, related_name="queries")
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.PROTECT, related_name="queries")
    category = models.CharField(max_length=24, choices=QueryCategory.choices, default=QueryCategory.OTHER)
    state = models.CharField(max_length=16, choices=QueryState.choices, default=QueryState.OPEN)
    subject = models.CharField(max_length=255)
    is_automatic = models.BooleanField(default=False, help_text="Opened by automated QC for a blocking finding.")
    cause_key = models.CharField(max_length=255, blank=True, help_text="The finding key that opened it (automatic queries).")
    requests_reupload = models.BooleanField(default=True, help_text="The site is asked to send images again.")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "queries"
        indexes = [models.Index(fields=["state", "created_at"])]
        constraints = [
            QUERY_MACHINE.check_constraint(),
            models.CheckConstraint(condition=Q(category__in=QueryCategory.values), name="query_category_valid"),
        ]

    def __str__(self) -> str:
        return f"Query {self.pk}: {self.subject[:60]}"

    @property
    def is_active(self) -> bool:
        return self.state in (QueryState.OPEN, QueryState.ANSWERED)

    def age_days(self, today: dt.date) -> int:
        """Days the query has been open (until it was closed)."""
        end = self.closed_at.date() if self.closed_at else today
        return (end - self.created_at.date()).days

    def is_overdue(self, today: dt.date) -> bool:
        """Past its due date while the site still has to answer."""
        return self.state == QueryState.OPEN and self.due_date < today


class QueryMessage(models.Model):
    query = models.ForeignKey(Query, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=QueryAction.choices)
    text = models.TextField()
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   help_text="A re-upload attached to the answer.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["query", "created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(action__in=QueryAction.values), name="query_message_action_valid")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.author or 'ICTMS'}"
