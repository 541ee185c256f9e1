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

# What moving a trial to each status does, in the words the status form and its confirmation page show
# (one place: the form's help, the confirmation and the trial pages' banners read these).
TRIAL_STATUS_CONSEQUENCES: dict[str, str] = {
    TrialStatus.SETUP: "The trial is still being set up: sites can already enrol participants and upload images, "
                       "but its schedule and imaging requirements may still change.",
    TrialStatus.ACTIVE: "Sites enrol participants and upload images; QC and reads go on.",
    TrialStatus.LOCKED: "No more enrolments or image uploads at any site: the trial's data is frozen. "
                        "Only a trial admin can unlock it (back to Active, with a reason) or close it.",
    TrialStatus.CLOSED: "Closed for good: no enrolments or uploads, and the status can never change again.",
}


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


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


# An invitation of an existing account: the invitee accepts or declines it, the trial admin revokes
# it, or it expires (INVITATION_EXPIRY_DAYS). Every end is final: a new invitation starts again.
INVITATION_MACHINE = StateMachine.build(
    name="invitation", field="state", choices=InvitationState, audit_action=AuditAction.INVITATION_STATE_CHANGE,
    transitions={
        InvitationState.PENDING: {InvitationState.ACCEPTED, InvitationState.DECLINED, InvitationState.REVOKED,
                                  InvitationState.EXPIRED},
    },
)


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

# What moving a participant to each status does (shown by the status form and its confirmation page).
PARTICIPANT_STATUS_CONSEQUENCES: dict[str, str] = {
    ParticipantStatus.SCREENING: "The participant is being screened; their visits are expected.",
    ParticipantStatus.ENROLLED: "The participant is enrolled: their visits are expected and take images.",
    ParticipantStatus.SCREEN_FAILED: "The participant leaves the trial for good: they owe no more visits and "
                                     "the status can never change again.",
    ParticipantStatus.WITHDRAWN: "The participant leaves the trial for good: they owe no more visits and "
                                 "the status can never change again.",
    ParticipantStatus.COMPLETED: "The participant has finished the trial: the status can never change again.",
}


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
