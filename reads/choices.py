"""Choices and state machines of the reads app (reads.md: read design, cases, tasks)."""
from django.db import models

from audit.actions import AuditAction
from ictms.lib.states import StateMachine


class Criteria(models.TextChoices):
    RECIST_1_1 = "recist_1_1", "RECIST 1.1"


class Paradigm(models.TextChoices):
    SINGLE = "single", "Single read (one reader per case)"
    DOUBLE = "double", "Double read (two independent readers + adjudicator)"


class Trigger(models.TextChoices):
    """Adjudication triggers (the engine's AdjudicationTrigger, by their API names)."""

    BEST_RESPONSE = "best_response", "Best overall response differs"
    PROGRESSION = "progression", "Progression differs (PD vs no PD, or PD at different timepoints)"
    FIRST_RESPONSE = "first_response", "Timepoint of first response (CR/PR) differs"
    OVERALL_RESPONSE = "overall_response", "Overall response differs at any timepoint"


DEFAULT_TRIGGERS = [Trigger.BEST_RESPONSE.value, Trigger.PROGRESSION.value]


class ReportedRead(models.IntegerChoices):
    """Which read is reported when both readers agree."""

    READER_1 = 1, "Reader 1"
    READER_2 = 2, "Reader 2"


class ReadTaskState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    READY = "ready", "Ready"
    IN_PROGRESS = "in_progress", "In progress"
    SIGNED = "signed", "Signed"
    NOT_DONE = "not_done", "Not done"
    NOT_REQUIRED = "not_required", "Not required"


# reads.md "Reading a timepoint". Waiting until the visit is accepted and every earlier timepoint of
# this read is signed; back to waiting when the visit loses its acceptance (not once signed) or when
# an earlier timepoint is re-opened; in progress back to ready when the case moves to another reader.
READ_TASK_MACHINE = StateMachine.build(
    name="read_task", field="state", choices=ReadTaskState, audit_action=AuditAction.READ_TASK_STATE_CHANGE,
    transitions={
        ReadTaskState.WAITING: {ReadTaskState.READY, ReadTaskState.NOT_DONE, ReadTaskState.NOT_REQUIRED},
        ReadTaskState.READY: {ReadTaskState.IN_PROGRESS, ReadTaskState.WAITING, ReadTaskState.NOT_DONE,
                              ReadTaskState.NOT_REQUIRED},
        ReadTaskState.IN_PROGRESS: {ReadTaskState.SIGNED, ReadTaskState.WAITING, ReadTaskState.READY,
                                    ReadTaskState.NOT_REQUIRED},
        ReadTaskState.SIGNED: {ReadTaskState.IN_PROGRESS, ReadTaskState.WAITING},
        # An earlier timepoint re-opened: a later one closed by progression, or marked missed, may open again.
        ReadTaskState.NOT_REQUIRED: {ReadTaskState.WAITING},
        ReadTaskState.NOT_DONE: {ReadTaskState.WAITING},
    },
)

# Tasks whose images the reader may open (reads.md: "open or signed, never a later timepoint").
OPEN_TASK_STATES = (ReadTaskState.READY, ReadTaskState.IN_PROGRESS, ReadTaskState.SIGNED)
# Tasks that no longer hold up the next timepoint.
SETTLED_TASK_STATES = (ReadTaskState.SIGNED, ReadTaskState.NOT_DONE, ReadTaskState.NOT_REQUIRED)


# reads.md "Values on the wire": the controlled organ list, lower-case names sent and returned.
ORGANS = (
    "lung", "liver", "lymph node", "bone", "brain", "adrenal gland", "kidney", "spleen", "pancreas",
    "peritoneum", "pleura", "soft tissue", "skin", "other",
)


class LesionType(models.TextChoices):
    TARGET = "target", "Target"
    NON_TARGET = "non_target", "Non-target"
    NEW = "new", "New lesion"


LABEL_PREFIX = {LesionType.TARGET: "T", LesionType.NON_TARGET: "NT", LesionType.NEW: "N"}


class ObservationKind(models.TextChoices):
    """What a reader recorded for one lesion at one timepoint (reads.md "Observations")."""

    MEASURED = "measured", "Measured"
    DISAPPEARED = "disappeared", "Disappeared (0 mm)"
    TOO_SMALL = "too_small", "Too small to measure (5 mm)"
    NOT_EVALUABLE = "not_evaluable", "Not evaluable"
    STATUS = "status", "Status"


class LesionStatus(models.TextChoices):
    """Statuses of non-targets (present .. not evaluable) and new lesions (equivocal, unequivocal, absent)."""

    PRESENT = "present", "Present"
    ABSENT = "absent", "Absent"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression", "Unequivocal progression"
    NOT_EVALUABLE = "not_evaluable", "Not evaluable"
    EQUIVOCAL = "equivocal", "Equivocal"
    UNEQUIVOCAL = "unequivocal", "Unequivocal"


NON_TARGET_STATUSES = (LesionStatus.PRESENT, LesionStatus.ABSENT, LesionStatus.UNEQUIVOCAL_PROGRESSION,
                       LesionStatus.NOT_EVALUABLE)
NEW_LESION_STATUSES = (LesionStatus.EQUIVOCAL, LesionStatus.UNEQUIVOCAL, LesionStatus.ABSENT)

SIGNATURE_MEANING = "I am the author of this assessment and approve it"


class ReopenState(models.TextChoices):
    PENDING = "pending", "Waiting for a second admin"
    APPROVED = "approved", "Approved"
    WITHDRAWN = "withdrawn", "Withdrawn"


REOPEN_MACHINE = StateMachine.build(
    name="read_reopen", field="state", choices=ReopenState, audit_action=AuditAction.READ_TASK_REOPEN_STATE_CHANGE,
    transitions={ReopenState.PENDING: {ReopenState.APPROVED, ReopenState.WITHDRAWN}},
)


class QualityQueryState(models.TextChoices):
    OPEN = "open", "Open (with QC)"
    ANSWERED = "answered", "Answered by QC"


# A reader asks QC about a timepoint's image quality; QC answers (reads.md "Reading a timepoint").
QUALITY_QUERY_MACHINE = StateMachine.build(
    name="read_quality_query", field="state", choices=QualityQueryState,
    audit_action=AuditAction.READ_QUALITY_QUERY_STATE_CHANGE,
    transitions={QualityQueryState.OPEN: {QualityQueryState.ANSWERED}},
)


class AdjudicationState(models.TextChoices):
    OPEN = "open", "Open"
    DECIDED = "decided", "Decided"
    SUPERSEDED = "superseded", "Superseded by a later round"
    VOID = "void", "Void (a read was re-opened)"


# reads.md "Adjudication": a later round supersedes a decision; re-opening a read voids the rounds it feeds.
ADJUDICATION_MACHINE = StateMachine.build(
    name="adjudication", field="state", choices=AdjudicationState, audit_action=AuditAction.ADJUDICATION_STATE_CHANGE,
    transitions={
        AdjudicationState.OPEN: {AdjudicationState.DECIDED, AdjudicationState.VOID},
        AdjudicationState.DECIDED: {AdjudicationState.SUPERSEDED, AdjudicationState.VOID},
    },
)


class AdjudicationReason(models.TextChoices):
    TARGET_SELECTION = "target_selection", "Target lesion selection"
    MEASUREMENT = "measurement", "Measurement"
    NEW_LESION_CALL = "new_lesion_call", "New-lesion call"
    NON_TARGET_CALL = "non_target_call", "Non-target call"
    MISSED_LESION = "missed_lesion", "Missed lesion"
    IMAGE_QUALITY = "image_quality", "Image quality"
    CRITERIA_MISAPPLICATION = "criteria_misapplication", "Criteria misapplication"


ADJUDICATION_MEANING = "I am the adjudicator of this case and approve this decision"


class ResultSource(models.TextChoices):
    AGREEMENT = "agreement", "Readers agree"
    ADJUDICATION = "adjudication", "Adjudicated"
    SINGLE = "single", "Single read"
    PENDING = "pending", "Pending adjudication"


class ReadPackageState(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


# reads.md "Read package": a Celery task builds it; a retry rebuilds from scratch (building -> queued
# -> building), and only the final save of a complete build marks it ready.
READ_PACKAGE_MACHINE = StateMachine.build(
    name="read_package", field="state", choices=ReadPackageState, audit_action=AuditAction.READ_PACKAGE_STATE_CHANGE,
    transitions={
        ReadPackageState.QUEUED: {ReadPackageState.BUILDING, ReadPackageState.FAILED},
        ReadPackageState.BUILDING: {ReadPackageState.READY, ReadPackageState.FAILED, ReadPackageState.QUEUED},
        ReadPackageState.FAILED: {ReadPackageState.QUEUED},
    },
)
