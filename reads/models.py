"""Models of the reads app: the read design, blinded read cases, reader assignments and read tasks.

reads.md fixes the rules. A ReadCase is a participant seen through a random code; a
ReadAssignment is one reader slot of a case (Reader 1, Reader 2 in a double read), whose reader
changes only by an audited reassignment; a ReadTask is that reader's read of one timepoint
(visit) of the case, moved only through READ_TASK_MACHINE by the services.
"""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from reads.choices import (
    ADJUDICATION_MACHINE,
    DEFAULT_TRIGGERS,
    QUALITY_QUERY_MACHINE,
    READ_PACKAGE_MACHINE,
    READ_TASK_MACHINE,
    REOPEN_MACHINE,
    AdjudicationReason,
    AdjudicationState,
    Criteria,
    LesionStatus,
    LesionType,
    ObservationKind,
    Paradigm,
    QualityQueryState,
    ReadPackageState,
    ReadTaskState,
    ReopenState,
    ReportedRead,
)


def _default_triggers() -> list[str]:
    return list(DEFAULT_TRIGGERS)


class ReadDesign(models.Model):
    """How a trial's images are read (one per trial; every save is a new history version)."""

    trial = models.OneToOneField("trials.Trial", on_delete=models.PROTECT, related_name="read_design")
    criteria = models.CharField(max_length=16, choices=Criteria.choices, default=Criteria.RECIST_1_1)
    paradigm = models.CharField(max_length=8, choices=Paradigm.choices, default=Paradigm.DOUBLE)
    triggers = models.JSONField(default=_default_triggers, blank=True)
    readers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    adjudicators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    confirmation_required = models.BooleanField(
        default=False, help_text="A CR or PR counts as best response only when a later timepoint confirms it.")
    confirmation_min_weeks = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(52)],
        help_text="The confirming timepoint is at least this many weeks after the response it confirms.")
    sd_min_weeks = models.PositiveSmallIntegerField(
        "minimum SD duration (weeks)", default=6, validators=[MaxValueValidator(52)],
        help_text="Stable disease counts as best response only at or after this many weeks from baseline.")
    visit_window_weeks = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(8)],
        help_text="The visit window subtracted from the SD minimum (the charter's tolerance).")
    stop_after_progression = models.BooleanField(
        "stop reading after confirmed progression", default=True,
        help_text="Later timepoints of a case are not read once the reader has found progression.")
    reported_read = models.PositiveSmallIntegerField(
        "read reported when readers agree", choices=ReportedRead.choices, default=ReportedRead.READER_1)
    reopen_needs_approval = models.BooleanField(
        "re-opening a signed read needs a second admin", default=False,
        help_text="A re-open asked by one trial admin waits for another admin's approval.")
    seed = models.BigIntegerField(editable=False, default=0, help_text="Breaks ties between equally loaded readers.")
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(m2m_fields=[readers, adjudicators])

    def __str__(self) -> str:
        return f"Read design of {self.trial_id} v{self.version}"

    @property
    def readers_per_case(self) -> int:
        return 2 if self.paradigm == Paradigm.DOUBLE else 1


class ReaderSeed(models.Model):
    """A reader's stored seed: their case order is randomized, and stays put (reads.md)."""

    trial = models.ForeignKey("trials.Trial", on_delete=models.PROTECT, related_name="+")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    seed = models.BigIntegerField(editable=False)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trial", "reader"], name="one_seed_per_reader_and_trial")]

    def __str__(self) -> str:
        return f"Seed of reader {self.reader_id} in trial {self.trial_id}"


class ReadCase(models.Model):
    """A participant as readers see it: a random code, unique in the trial."""

    trial = models.ForeignKey("trials.Trial", on_delete=models.PROTECT, related_name="read_cases")
    participant = models.OneToOneField("trials.Participant", on_delete=models.PROTECT, related_name="read_case")
    code = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "code"]
        constraints = [models.UniqueConstraint(fields=["trial", "code"], name="case_code_unique_in_trial")]

    def __str__(self) -> str:
        return self.code


class ReadAssignment(models.Model):
    """One reader slot of a case (Reader 1 or 2); a reassignment changes its reader."""

    case = models.ForeignKey(ReadCase, on_delete=models.PROTECT, related_name="assignments")
    slot = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(2)])
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="read_assignments")
    order_key = models.BigIntegerField(help_text="Place of the case in the reader's worklist (from their seed).")
    assigned_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["case", "slot"], name="one_reader_per_slot"),
            models.UniqueConstraint(fields=["case", "reader"], name="distinct_readers_per_case"),
            models.CheckConstraint(condition=Q(slot__in=(1, 2)), name="assignment_slot_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.case} Reader {self.slot}"


class ReadTask(models.Model):
    """One reader's read of one timepoint of a case."""

    assignment = models.ForeignKey(ReadAssignment, on_delete=models.PROTECT, related_name="tasks")
    visit = models.ForeignKey("trials.Visit", on_delete=models.PROTECT, related_name="read_tasks")
    state = models.CharField(max_length=16, choices=ReadTaskState.choices, default=ReadTaskState.WAITING)
    sequence = models.PositiveSmallIntegerField(default=0, help_text="Position in the case's reading order (0: baseline).")
    days_since_baseline = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    active_seconds = models.PositiveIntegerField(default=0)
    new_lesions_none = models.BooleanField(
        default=False, help_text="The reader answered the new-lesion question of this follow-up with 'none'.")
    response = models.JSONField(null=True, blank=True, help_text="The engine's result for this timepoint at signing.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["assignment", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "visit"], name="one_task_per_reader_and_timepoint"),
            READ_TASK_MACHINE.check_constraint(),
        ]
        indexes = [models.Index(fields=["visit", "state"])]

    def __str__(self) -> str:
        return f"{self.assignment} #{self.sequence}"


class Lesion(models.Model):
    """A lesion of one reader's read of a case (reads.md "Lesions"): chosen at baseline, or new later."""

    assignment = models.ForeignKey(ReadAssignment, on_delete=models.PROTECT, related_name="lesions")
    created_in = models.ForeignKey(ReadTask, on_delete=models.PROTECT, related_name="lesions_added")
    kind = models.CharField(max_length=16, choices=LesionType.choices)
    label = models.CharField(max_length=8)
    number = models.PositiveSmallIntegerField()
    organ = models.CharField(max_length=32)
    location = models.CharField(max_length=200, blank=True)
    lymph_node = models.BooleanField(default=False)
    tracking_uid = models.CharField(max_length=64, help_text="Stable across timepoints and exports (DICOM SR).")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["assignment", "kind", "number"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "label"], name="lesion_label_unique_in_read"),
            models.CheckConstraint(condition=Q(kind__in=LesionType.values), name="lesion_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.label


class Observation(models.Model):
    """One lesion at one timepoint: a measurement (with its image), an alternative, or a status."""

    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="observations")
    task = models.ForeignKey(ReadTask, on_delete=models.PROTECT, related_name="observations")
    kind = models.CharField(max_length=16, choices=ObservationKind.choices)
    measurement = models.ForeignKey("imaging.Measurement", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="read_observations")
    diameter_mm = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True,
                                      help_text="From the measurement (never typed); frozen at signing.")
    status = models.CharField(max_length=32, choices=LesionStatus.choices, blank=True)
    reason = models.CharField(max_length=255, blank=True, help_text="Why the lesion is not evaluable.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["task", "lesion"]
        constraints = [
            models.UniqueConstraint(fields=["lesion", "task"], name="one_observation_per_lesion_and_timepoint"),
            models.CheckConstraint(condition=Q(kind__in=ObservationKind.values), name="observation_kind_valid"),
            models.CheckConstraint(condition=~Q(kind=ObservationKind.MEASURED) | Q(measurement__isnull=False),
                                   name="measured_observation_has_measurement"),
        ]

    def __str__(self) -> str:
        return f"{self.lesion} @ {self.task_id}: {self.kind}"


class Signature(models.Model):
    """A 21 CFR Part 11 electronic signature of one read task (reads.md "Signing")."""

    task = models.ForeignKey(ReadTask, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=300)
    meaning = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    content = models.JSONField(help_text="The canonical content signed (lesions, observations, responses).")
    superseded = models.BooleanField(default=False)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_reason = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["task", "signed_at"]
        constraints = [models.UniqueConstraint(fields=["task"], condition=Q(superseded=False),
                                               name="one_current_signature_per_task")]

    def __str__(self) -> str:
        return f"{self.printed_name} {self.signed_at:%Y-%m-%d %H:%M} UTC"


class ReopenRequest(models.Model):
    """A trial admin's request to re-open a signed read, waiting for a second admin (when the design says so)."""

    task = models.ForeignKey(ReadTask, on_delete=models.PROTECT, related_name="reopen_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    state = models.CharField(max_length=16, choices=ReopenState.choices, default=ReopenState.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["task", "created_at"]
        constraints = [
            REOPEN_MACHINE.check_constraint(),
            models.UniqueConstraint(fields=["task"], condition=Q(state=ReopenState.PENDING),
                                    name="one_pending_reopen_per_task"),
        ]

    def __str__(self) -> str:
        return f"Re-open of task {self.task_id} ({self.state})"


class QualityQuery(models.Model):
    """A reader's question to QC about a timepoint's image quality; the task stays unsigned until QC answers."""

    task = models.ForeignKey(ReadTask, on_delete=models.PROTECT, related_name="quality_queries")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    message = models.TextField()
    state = models.CharField(max_length=16, choices=QualityQueryState.choices, default=QualityQueryState.OPEN)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [QUALITY_QUERY_MACHINE.check_constraint()]

    def __str__(self) -> str:
        return f"Image-quality query {self.pk} ({self.state})"


class Adjudication(models.Model):
    """One adjudication round of a double-read case (reads.md "Adjudication")."""

    case = models.ForeignKey(ReadCase, on_delete=models.PROTECT, related_name="adjudications")
    round = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=16, choices=AdjudicationState.choices, default=AdjudicationState.OPEN)
    triggers = models.JSONField(default=list, help_text="The read design's triggers the two reads set off.")
    up_to = models.PositiveSmallIntegerField(help_text="The last timepoint (reading order) both reads were compared to.")
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjudications")
    created_at = models.DateTimeField(auto_now_add=True)
    selected = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1: Reader 1, 2: Reader 2.")
    reason_code = models.CharField(max_length=32, choices=AdjudicationReason.choices, blank=True)
    rationale = models.TextField(blank=True)
    printed_name = models.CharField(max_length=300, blank=True)
    meaning = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    content = models.JSONField(null=True, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "round"]
        constraints = [
            ADJUDICATION_MACHINE.check_constraint(),
            models.UniqueConstraint(fields=["case", "round"], name="one_round_number_per_case"),
            models.UniqueConstraint(fields=["case"], condition=Q(state=AdjudicationState.OPEN),
                                    name="one_open_adjudication_per_case"),
            models.CheckConstraint(condition=Q(selected__isnull=True) | Q(selected__in=(1, 2)),
                                   name="adjudication_selected_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.case} round {self.round} ({self.state})"


class ReadPackage(models.Model):
    """A sponsor read package of one trial (reads.md "Read package"): built by a Celery task into storage."""

    trial = models.ForeignKey("trials.Trial", on_delete=models.PROTECT, related_name="read_packages")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cutoff = models.DateField(null=True, blank=True, help_text="Only visits scanned on or before this date.")
    subjects = models.JSONField(null=True, blank=True, help_text="Subject codes to include (blank: every subject).")
    state = models.CharField(max_length=16, choices=ReadPackageState.choices, default=ReadPackageState.QUEUED)
    files_written = models.PositiveIntegerField(default=0)
    files_total = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    storage_key = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [READ_PACKAGE_MACHINE.check_constraint()]

    def __str__(self) -> str:
        return f"Read package {self.pk} of {self.trial_id} ({self.state})"

    @property
    def progress_pct(self) -> float:
        """Files written as a share of the files to write (100 once ready)."""
        if self.state == ReadPackageState.READY:
            return 100.0
        return round(100 * self.files_written / self.files_total, 1) if self.files_total else 0.0

    @property
    def unfinished(self) -> bool:
        return self.state in (ReadPackageState.QUEUED, ReadPackageState.BUILDING)

    @property
    def build_seconds(self) -> float | None:
        """From the request to the package being ready (queueing included)."""
        return (self.built_at - self.created_at).total_seconds() if self.built_at else None

    @property
    def download_name(self) -> str:
        return f"{self.trial.code}-read-package-{self.pk}.zip"
