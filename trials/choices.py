"""Choices and state machines of the trials app (one StateMachine per stored state field)."""
from django.db import models

from audit.actions import AuditAction
from ictms.lib.states import StateMachine


class TrialStatus(models.TextChoices):
    SETUP = "setup", "Set-up"
    ACTIVE = "active", "Active"
    LOCKED = "locked", "Locked"
    CLOSED = "closed", "Closed"


TRIAL_MACHINE = StateMachine.build(
    name="trial", field="status", choices=TrialStatus, audit_action=AuditAction.TRIAL_STATUS_CHANGE,
    transitions={
        TrialStatus.SETUP: {TrialStatus.ACTIVE},
        TrialStatus.ACTIVE: {TrialStatus.LOCKED},
        TrialStatus.LOCKED: {TrialStatus.ACTIVE, TrialStatus.CLOSED},
    },
)


class Role(models.TextChoices):
    TRIAL_ADMIN = "trial_admin", "Trial admin"
    SITE_COORDINATOR = "site_coordinator", "Site coordinator"
    QC_ANALYST = "qc_analyst", "QC analyst"
    READER = "reader", "Reader"
    ADJUDICATOR = "adjudicator", "Adjudicator"
    SPONSOR = "sponsor", "Sponsor"
    AUDITOR = "auditor", "Auditor / monitor"


SITE_ROLES = {Role.SITE_COORDINATOR}
# Roles that are blinded: they never see sites, subject codes, arms, real dates or PHI.
BLINDED_ROLES = {Role.READER, Role.ADJUDICATOR}


class ParticipantStatus(models.TextChoices):
    SCREENING = "screening", "Screening"
    ENROLLED = "enrolled", "Enrolled"
    SCREEN_FAILED = "screen_failed", "Screen failed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    COMPLETED = "completed", "Completed"


PARTICIPANT_MACHINE = StateMachine.build(
    name="participant", field="status", choices=ParticipantStatus, audit_action=AuditAction.PARTICIPANT_STATUS_CHANGE,
    transitions={
        ParticipantStatus.SCREENING: {ParticipantStatus.ENROLLED, ParticipantStatus.SCREEN_FAILED, ParticipantStatus.WITHDRAWN},
        ParticipantStatus.ENROLLED: {ParticipantStatus.WITHDRAWN, ParticipantStatus.COMPLETED},
    },
)


class VisitState(models.TextChoices):
    """Where the imaging of a visit is in the workflow (stored)."""

    EXPECTED = "expected", "Expected"
    RECEIVED = "received", "Received"
    IN_QC = "in_qc", "In QC"
    ACCEPTED = "accepted", "Accepted"
    READ = "read", "Read"


# New images move a visit (back) to received; received -> received is a further upload before QC.
# A visit that has been read takes no new images (bug B2 of issue #9) until its reads are re-opened.
VISIT_MACHINE = StateMachine.build(
    name="visit", field="state", choices=VisitState, audit_action=AuditAction.VISIT_STATE_CHANGE,
    transitions={
        VisitState.EXPECTED: {VisitState.RECEIVED},
        VisitState.RECEIVED: {VisitState.IN_QC, VisitState.ACCEPTED, VisitState.RECEIVED},
        VisitState.IN_QC: {VisitState.ACCEPTED, VisitState.RECEIVED},
        VisitState.ACCEPTED: {VisitState.READ, VisitState.RECEIVED},
        # The reads of a read visit are re-opened by the trial admin: it is accepted (unread) again.
        VisitState.READ: {VisitState.ACCEPTED},
    },
)


class VisitStatus(models.TextChoices):
    """What the visit grid shows: the stored state, or for expected visits the window status."""

    UPCOMING = "upcoming", "Upcoming"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    NOT_SCHEDULED = "not_scheduled", "Not scheduled"
    RECEIVED = "received", "Received"
    IN_QC = "in_qc", "In QC"
    ACCEPTED = "accepted", "Accepted"
    READ = "read", "Read"


class Modality(models.TextChoices):
    CT = "CT", "CT"
    MR = "MR", "MR"
    PT = "PT", "PET"
    NM = "NM", "Nuclear medicine"
    CR = "CR", "Computed radiography"
    DX = "DX", "Digital X-ray"
    US = "US", "Ultrasound"
    MG = "MG", "Mammography"
    XA = "XA", "X-ray angiography"
    OT = "OT", "Other"


class ContrastRule(models.TextChoices):
    REQUIRED = "required", "Contrast required"
    NOT_ALLOWED = "not_allowed", "No contrast"
    EITHER = "either", "Either"
