"""Every write of the trials app: set-up, memberships, participants. Each call is one audited transaction."""
from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_record, diff, snapshot
from audit.transitions import transition
from ictms.lib.errors import DomainError, InvalidTransition, NotFoundError, PermissionDeniedError
from ictms.lib.history import stamp
from trials.choices import (
    INVITATION_MACHINE,
    PARTICIPANT_MACHINE,
    SITE_ROLES,
    TRIAL_MACHINE,
    VISIT_MACHINE,
    InvitationState,
    ParticipantStatus,
    Role,
    VisitState,
)
from trials.models import (
    ImagingRequirement,
    Invitation,
    Membership,
    Participant,
    Site,
    TimepointDefinition,
    Trial,
    Visit,
)
from trials.permissions import membership_permissions_sync
from trials.signals import visit_state_changed

TRIAL_FIELDS = (
    "title", "sponsor_name", "indication", "subject_code_pattern", "blind_readers", "deid_date_shift_max_days",
    "deid_retain_patient_characteristics", "deid_retain_modified_dates", "deid_clean_descriptors",
    "deid_retain_device_identity", "deid_private_tag_safe_list", "qc_severity_overrides", "scan_date_tolerance_days",
    "query_due_days",
)
SITE_FIELDS = ("number", "name", "country", "ae_title", "is_active")
TIMEPOINT_FIELDS = ("code", "label", "order", "nominal_day", "window_before", "window_after", "is_baseline", "required")
REQUIREMENT_FIELDS = (
    "modality", "body_region", "contrast", "max_slice_thickness_mm", "min_pixel_spacing_mm", "max_pixel_spacing_mm",
    "min_slices", "required", "other_rules", "body_part_keywords", "slice_gap_tolerance", "require_contiguous_slices",
    "min_matrix", "min_coverage_mm", "allow_multiple_studies",
)
PARTICIPANT_FIELDS = ("subject_code", "site", "status", "consent_date", "treatment_start_date", "arm")


# --- helpers ----------------------------------------------------------------------------------

def require_trial_perm(actor: User, perm: str, trial: Trial) -> None:
    """403 if the actor sees the trial but lacks `perm`; 404 if they do not see it at all."""
    if actor.has_perm(f"trials.{perm}", trial):
        return
    if actor.has_perm("trials.view_trial", trial):
        raise PermissionDeniedError()
    raise NotFoundError("No such trial.")


def require_site_perm(actor: User, perm: str, site: Site) -> None:
    if actor.has_perm(f"trials.{perm}", site):
        return
    if actor.has_perm("trials.view_site_data", site) or actor.has_perm("trials.view_all_sites", site.trial):
        raise PermissionDeniedError()
    raise NotFoundError("No such site.")




def _save(obj: Any, actor: User, reason: str = "", **kwargs: Any) -> None:
    obj.full_clean()
    stamp(obj, actor, reason)
    obj.save(**kwargs)


def _apply(obj: Any, fields: tuple[str, ...], values: dict[str, Any]) -> None:
    unknown = set(values) - set(fields)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    for name, value in values.items():
        setattr(obj, name, value)


# --- trials -----------------------------------------------------------------------------------

@transaction.atomic
def trial_create(*, actor: User, code: str, title: str, sponsor_name: str, **fields: Any) -> Trial:
    """Create a trial in set-up; the creator becomes its trial admin. Needs the global add_trial right."""
    if not actor.has_perm("trials.add_trial"):
        raise PermissionDeniedError("You may not create trials.")
    trial = Trial(code=code, title=title, sponsor_name=sponsor_name)
    _apply(trial, TRIAL_FIELDS, fields)
    _save(trial, actor)
    audit_record(actor=actor, action=AuditAction.TRIAL_CREATE, target=trial, trial=trial,
                 changes=diff({}, snapshot(trial, ("code", *TRIAL_FIELDS, "status"))))
    _membership_create(actor=actor, trial=trial, user=actor, role=Role.TRIAL_ADMIN, site=None)
    return trial


@transaction.atomic
def trial_update(*, actor: User, trial: Trial, **fields: Any) -> Trial:
    require_trial_perm(actor, "manage_trial", trial)
    trial = Trial.objects.select_for_update().get(pk=trial.pk)
    before = snapshot(trial, TRIAL_FIELDS)
    _apply(trial, TRIAL_FIELDS, fields)
    changes = diff(before, snapshot(trial, TRIAL_FIELDS))
    if changes:
        _save(trial, actor)
        audit_record(actor=actor, action=AuditAction.TRIAL_UPDATE, target=trial, trial=trial, changes=changes)
    return trial


@transaction.atomic
def trial_status_change(*, actor: User, trial: Trial, status: str, reason: str) -> Trial:
    """Move the trial to `status` (TRIAL_STATUS_CONSEQUENCES says what that does); every change needs a reason."""
    require_trial_perm(actor, "manage_trial", trial)
    trial = Trial.objects.select_for_update().get(pk=trial.pk)
    TRIAL_MACHINE.ensure(trial.status, status)
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for changing the trial's status."})
    transition(TRIAL_MACHINE, trial, status, actor=actor, trial=trial, reason=reason)
    return trial


# --- sites ------------------------------------------------------------------------------------

@transaction.atomic
def site_create(*, actor: User, trial: Trial, **fields: Any) -> Site:
    require_trial_perm(actor, "manage_trial", trial)
    site = Site(trial=trial)
    _apply(site, SITE_FIELDS, fields)
    site.ae_title = (site.ae_title or "").upper()
    _save(site, actor)
    audit_record(actor=actor, action=AuditAction.SITE_CREATE, target=site, trial=trial, changes=diff({}, snapshot(site, SITE_FIELDS)))
    return site


@transaction.atomic
def site_update(*, actor: User, site: Site, **fields: Any) -> Site:
    require_trial_perm(actor, "manage_trial", site.trial)
    site = Site.objects.select_for_update().get(pk=site.pk)
    before = snapshot(site, SITE_FIELDS)
    _apply(site, SITE_FIELDS, fields)
    site.ae_title = (site.ae_title or "").upper()
    changes = diff(before, snapshot(site, SITE_FIELDS))
    if changes:
        _save(site, actor)
        audit_record(actor=actor, action=AuditAction.SITE_UPDATE, target=site, trial=site.trial, changes=changes)
    return site


# --- schedule ---------------------------------------------------------------------------------

@transaction.atomic
def timepoint_create(*, actor: User, trial: Trial, **fields: Any) -> TimepointDefinition:
    """Add a timepoint to the schedule; every participant already enrolled gets the visit."""
    require_trial_perm(actor, "manage_trial", trial)
    timepoint = TimepointDefinition(trial=trial)
    _apply(timepoint, TIMEPOINT_FIELDS, fields)
    _save(timepoint, actor)
    audit_record(actor=actor, action=AuditAction.TIMEPOINT_CREATE, target=timepoint, trial=trial,
                 changes=diff({}, snapshot(timepoint, TIMEPOINT_FIELDS)))
    for participant in Participant.objects.filter(trial=trial):
        _visit_create(actor=actor, participant=participant, timepoint=timepoint)
    return timepoint


@transaction.atomic
def timepoint_update(*, actor: User, timepoint: TimepointDefinition, **fields: Any) -> TimepointDefinition:
    require_trial_perm(actor, "manage_trial", timepoint.trial)
    timepoint = TimepointDefinition.objects.select_for_update().get(pk=timepoint.pk)
    before = snapshot(timepoint, TIMEPOINT_FIELDS)
    _apply(timepoint, TIMEPOINT_FIELDS, fields)
    changes = diff(before, snapshot(timepoint, TIMEPOINT_FIELDS))
    if changes:
        _save(timepoint, actor)
        audit_record(actor=actor, action=AuditAction.TIMEPOINT_UPDATE, target=timepoint, trial=timepoint.trial, changes=changes)
    return timepoint


@transaction.atomic
def imaging_requirement_create(*, actor: User, timepoint: TimepointDefinition, **fields: Any) -> ImagingRequirement:
    require_trial_perm(actor, "manage_trial", timepoint.trial)
    requirement = ImagingRequirement(timepoint=timepoint)
    _apply(requirement, REQUIREMENT_FIELDS, fields)
    _save(requirement, actor)
    audit_record(actor=actor, action=AuditAction.IMAGING_REQUIREMENT_CREATE, target=requirement, trial=timepoint.trial,
                 changes=diff({}, snapshot(requirement, REQUIREMENT_FIELDS)), data={"timepoint": timepoint.code})
    return requirement


@transaction.atomic
def imaging_requirement_update(*, actor: User, requirement: ImagingRequirement, **fields: Any) -> ImagingRequirement:
    trial = requirement.timepoint.trial
    require_trial_perm(actor, "manage_trial", trial)
    requirement = ImagingRequirement.objects.select_for_update().get(pk=requirement.pk)
    before = snapshot(requirement, REQUIREMENT_FIELDS)
    _apply(requirement, REQUIREMENT_FIELDS, fields)
    changes = diff(before, snapshot(requirement, REQUIREMENT_FIELDS))
    if changes:
        _save(requirement, actor)
        audit_record(actor=actor, action=AuditAction.IMAGING_REQUIREMENT_UPDATE, target=requirement, trial=trial, changes=changes)
    return requirement


@transaction.atomic
def imaging_requirement_delete(*, actor: User, requirement: ImagingRequirement, reason: str = "") -> None:
    trial = requirement.timepoint.trial
    require_trial_perm(actor, "manage_trial", trial)
    audit_record(actor=actor, action=AuditAction.IMAGING_REQUIREMENT_DELETE, target=requirement, trial=trial, reason=reason,
                 changes=diff(snapshot(requirement, REQUIREMENT_FIELDS), {}))
    stamp(requirement, actor, reason)
    requirement.delete()


@transaction.atomic
def imaging_requirements_copy(*, actor: User, source: TimepointDefinition, targets: Sequence[TimepointDefinition],
                              requirement_ids: Collection[int] | None = None) -> list[ImagingRequirement]:
    """Copy the imaging requirements of `source` (all, or those of `requirement_ids`) to other timepoints.

    The targets must be other timepoints of the same trial. A requirement the target already has
    with the same values is not added twice, so copying again adds nothing. Each copy is an
    `imaging_requirement.create` event naming the timepoint and requirement it was copied from.
    """
    trial = source.trial
    require_trial_perm(actor, "manage_trial", trial)
    if not targets:
        raise ValidationError({"targets": "Choose at least one timepoint to copy the requirements to."})
    wrong = [t for t in targets if t.trial_id != trial.pk or t.pk == source.pk]
    if wrong:
        raise ValidationError({"targets": "Copy to other timepoints of this trial."})
    requirements = list(source.imaging_requirements.order_by("id"))
    if requirement_ids is not None:
        requirements = [r for r in requirements if r.pk in set(requirement_ids)]
    if not requirements:
        raise DomainError(f"Timepoint {source.code} has no imaging requirements to copy.")
    created = []
    for target in TimepointDefinition.objects.select_for_update().filter(pk__in=[t.pk for t in targets]).order_by("order"):
        existing = [snapshot(r, REQUIREMENT_FIELDS) for r in target.imaging_requirements.all()]
        for original in requirements:
            values = snapshot(original, REQUIREMENT_FIELDS)
            if values in existing:
                continue
            copy = ImagingRequirement(timepoint=target)
            for name in REQUIREMENT_FIELDS:
                setattr(copy, name, getattr(original, name))
            _save(copy, actor)
            audit_record(actor=actor, action=AuditAction.IMAGING_REQUIREMENT_CREATE, target=copy, trial=trial,
                         changes=diff({}, snapshot(copy, REQUIREMENT_FIELDS)),
                         data={"timepoint": target.code, "copied_from": source.code, "copied_requirement": original.pk})
            existing.append(values)
            created.append(copy)
    return created


# --- memberships ------------------------------------------------------------------------------

def _membership_create(*, actor: User, trial: Trial, user: User, role: str, site: Site | None) -> Membership:
    if Membership.objects.filter(user=user, trial=trial, is_active=True).exists():
        raise DomainError(f"{user.email or user.get_username()} is already a member of {trial.code}; "
                          "change their role instead.")
    membership = Membership(user=user, trial=trial, role=role, site=site if role in SITE_ROLES else None)
    _save(membership, actor)
    membership_permissions_sync(user=user, trial=trial)
    audit_record(actor=actor, action=AuditAction.MEMBERSHIP_CREATE, target=membership, trial=trial,
                 changes=diff({}, {"user": user.get_username(), "role": role, "site": site.number if site else None}))
    return membership


@dataclass(frozen=True)
class InviteOutcome:
    """What `membership_invite` did: a new account and its membership, or an invitation of an existing account."""

    email: str
    membership: Membership | None = None
    invitation: Invitation | None = None

    @property
    def created_user(self) -> bool:
        return self.membership is not None


@transaction.atomic
def membership_invite(
    *, actor: User, trial: Trial, email: str, role: str, site: Site | None = None,
    first_name: str = "", last_name: str = "", username: str = "",
) -> InviteOutcome:
    """Give a person a role in the trial: a new account at once, an existing account by invitation.

    No account with this e-mail: the account is created with no usable password and the
    membership with it; the set-password e-mail follows after commit (setting the password is
    their consent). An account with this e-mail: a pending invitation, e-mailed to its owner, who
    becomes a member only by accepting it (`invitation_accept`). The admin learns nothing of that
    account: the invitation, its audit event and every message name the e-mail address only.
    """
    require_trial_perm(actor, "manage_trial", trial)
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    if role in SITE_ROLES:
        if site is None:
            raise ValidationError({"site": "Choose the site this person works at."})
        if site.trial_id != trial.pk:
            raise ValidationError({"site": "That site belongs to another trial."})
    else:
        site = None
    email = email.strip().lower()
    if not email:
        raise ValidationError({"email": "An e-mail address is required."})
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return InviteOutcome(email=email, invitation=_invitation_create(
            actor=actor, trial=trial, user=user, email=email, role=role, site=site))
    username = (username or email.split("@")[0]).strip()
    if User.objects.filter(username=username).exists():
        username = f"{username}{secrets.randbelow(9000) + 1000}"
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    audit_record(actor=actor, action=AuditAction.USER_CREATE, target=user, trial=trial,
                 data={"username": user.username, "email": email})
    membership = _membership_create(actor=actor, trial=trial, user=user, role=role, site=site)
    from trials.tasks import membership_invitation_send_task

    transaction.on_commit(lambda: membership_invitation_send_task.delay(membership.pk))
    return InviteOutcome(email=email, membership=membership)


def _invitation_create(*, actor: User, trial: Trial, user: User, email: str, role: str, site: Site | None) -> Invitation:
    if Membership.objects.filter(user=user, trial=trial, is_active=True).exists():
        raise DomainError(f"{email} is already a member of {trial.code}; change their role instead.")
    now = timezone.now()
    pending = Invitation.objects.select_for_update().filter(user=user, trial=trial, state=InvitationState.PENDING).first()
    if pending is not None and pending.expires_at > now:
        raise DomainError(f"{email} already has a pending invitation to {trial.code} (until "
                          f"{pending.expires_at:%Y-%m-%d}); revoke it to send another.")
    if pending is not None:
        _invitation_expire(pending)
    invitation = Invitation(trial=trial, role=role, site=site, email=email, user=user, invited_by=actor,
                            expires_at=now + dt.timedelta(days=settings.INVITATION_EXPIRY_DAYS))
    _save(invitation, actor)
    audit_record(actor=actor, action=AuditAction.INVITATION_CREATE, target=invitation, trial=trial,
                 changes=diff({}, {"email": email, "role": role, "site": site.number if site else None,
                                   "state": invitation.state}),
                 data={"expires_at": invitation.expires_at.isoformat()})
    from trials.tasks import invitation_send_task

    transaction.on_commit(lambda: invitation_send_task.delay(invitation.pk))
    return invitation


def _invitation_for_invitee(actor: User, invitation: Invitation) -> Invitation:
    """The invitation, locked, if it is the actor's own; anyone else is told it does not exist."""
    found = Invitation.objects.select_for_update(of=("self",)).select_related("trial", "site").filter(
        pk=invitation.pk, user_id=actor.pk).first()
    if found is None or not actor.is_active:
        raise NotFoundError("No such invitation.")
    return found


def _ensure_pending(invitation: Invitation, now: dt.datetime) -> None:
    if invitation.state != InvitationState.PENDING:
        raise InvalidTransition(f"This invitation has already been {invitation.get_state_display().lower()}: "
                                "nothing was changed.")
    if invitation.expires_at <= now:
        raise DomainError(f"This invitation expired on {invitation.expires_at:%Y-%m-%d}: ask the trial admin of "
                          f"{invitation.trial.code} for a new one.")


@transaction.atomic
def invitation_accept(*, actor: User, invitation: Invitation) -> Membership:
    """The invited account's owner accepts: the membership starts now, with the invited role and site."""
    invitation = _invitation_for_invitee(actor, invitation)
    now = timezone.now()
    _ensure_pending(invitation, now)
    site = invitation.site
    if site is not None and not site.is_active:
        raise DomainError(f"Site {site.number} no longer takes part in {invitation.trial.code}: ask the trial admin "
                          "for a new invitation.")
    membership = _membership_create(actor=actor, trial=invitation.trial, user=actor, role=invitation.role, site=site)
    transition(INVITATION_MACHINE, invitation, InvitationState.ACCEPTED, actor=actor, trial=invitation.trial,
               action=AuditAction.INVITATION_ACCEPT, fields={"membership_id": membership.pk},
               bookkeeping={"decided_at": now})
    return membership


@transaction.atomic
def invitation_decline(*, actor: User, invitation: Invitation, reason: str = "") -> Invitation:
    """The invited account's owner declines: no membership; the admin sees "declined" (and the reason, if given)."""
    invitation = _invitation_for_invitee(actor, invitation)
    _ensure_pending(invitation, timezone.now())
    transition(INVITATION_MACHINE, invitation, InvitationState.DECLINED, actor=actor, trial=invitation.trial,
               action=AuditAction.INVITATION_DECLINE, reason=reason.strip(), bookkeeping={"decided_at": timezone.now()})
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation, reason: str = "") -> Invitation:
    """The trial admin withdraws a pending invitation: its link stops working."""
    trial = invitation.trial
    if not actor.has_perm("trials.view_trial", trial):
        raise NotFoundError("No such invitation.")
    require_trial_perm(actor, "manage_trial", trial)
    invitation = Invitation.objects.select_for_update(of=("self",)).select_related("trial").get(pk=invitation.pk)
    if invitation.state != InvitationState.PENDING:
        raise InvalidTransition(f"This invitation is {invitation.get_state_display().lower()}: only a pending "
                                "invitation can be revoked.")
    transition(INVITATION_MACHINE, invitation, InvitationState.REVOKED, actor=actor, trial=trial,
               action=AuditAction.INVITATION_REVOKE, reason=reason.strip(), bookkeeping={"decided_at": timezone.now()})
    return invitation


def _invitation_expire(invitation: Invitation) -> None:
    transition(INVITATION_MACHINE, invitation, InvitationState.EXPIRED, actor=None, trial=invitation.trial,
               action=AuditAction.INVITATION_EXPIRE, bookkeeping={"decided_at": timezone.now()},
               data={"expires_at": invitation.expires_at.isoformat()})


@transaction.atomic
def invitations_expire(*, now: dt.datetime | None = None) -> int:
    """Mark every pending invitation past its time expired (the system's move, on Celery beat). Returns how many."""
    now = now or timezone.now()
    overdue = Invitation.objects.select_for_update(skip_locked=True, of=("self",)).select_related("trial").filter(
        state=InvitationState.PENDING, expires_at__lte=now).order_by("id")
    count = 0
    for invitation in overdue:
        _invitation_expire(invitation)
        count += 1
    return count


def _ensure_admin_remains(membership: Membership, new_role: str | None) -> None:
    if membership.role == Role.TRIAL_ADMIN and new_role != Role.TRIAL_ADMIN:
        others = Membership.objects.filter(trial=membership.trial, role=Role.TRIAL_ADMIN, is_active=True).exclude(pk=membership.pk)
        if not others.exists():
            raise DomainError("A trial must keep at least one trial admin.")


@transaction.atomic
def membership_change_role(
    *, actor: User, membership: Membership, role: str, site: Site | None = None, reason: str
) -> Membership:
    """Change a member's role (and site); a reason is mandatory and audited."""
    require_trial_perm(actor, "manage_trial", membership.trial)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give a reason for changing this member's role."})
    membership = Membership.objects.select_for_update(of=("self",)).select_related("trial", "site", "user").get(pk=membership.pk)
    if not membership.is_active:
        raise DomainError("This membership has ended.")
    if role in SITE_ROLES and (site is None or site.trial_id != membership.trial_id):
        raise ValidationError({"site": "Choose a site of this trial."})
    _ensure_admin_remains(membership, role)
    before = {"role": membership.role, "site": membership.site.number if membership.site else None}
    membership.role = role
    membership.site = site if role in SITE_ROLES else None
    _save(membership, actor, reason)
    membership_permissions_sync(user=membership.user, trial=membership.trial)
    after = {"role": membership.role, "site": membership.site.number if membership.site else None}
    audit_record(actor=actor, action=AuditAction.MEMBERSHIP_ROLE_CHANGE, target=membership, trial=membership.trial,
                 reason=reason, changes=diff(before, after))
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership, reason: str) -> Membership:
    """End a membership (it is kept, inactive, for the record); a reason is mandatory and audited."""
    require_trial_perm(actor, "manage_trial", membership.trial)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give a reason for removing this member."})
    membership = Membership.objects.select_for_update(of=("self",)).select_related("trial", "user").get(pk=membership.pk)
    if not membership.is_active:
        raise DomainError("This membership has already ended.")
    _ensure_admin_remains(membership, None)
    membership.is_active = False
    membership.ended_at = timezone.now()
    _save(membership, actor, reason)
    membership_permissions_sync(user=membership.user, trial=membership.trial)
    audit_record(actor=actor, action=AuditAction.MEMBERSHIP_REMOVE, target=membership, trial=membership.trial,
                 reason=reason, changes={"is_active": [True, False]})
    return membership


@transaction.atomic
def member_unlock(*, actor: User, membership: Membership, reason: str) -> int:
    """Lift the log-in lock (django-axes) of a member's account before it ends by itself; reason required, audited.

    The trial admin of any trial the person is an active member of may do it. The account's failed
    attempts are cleared from every client address (a lock is per account and address). Returns how
    many failed-attempt records were cleared. Refused when the account is locked from no address.
    """
    from axes.models import AccessAttempt

    from trials.selectors import account_locks

    require_trial_perm(actor, "manage_trial", membership.trial)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give a reason for unlocking this account."})
    membership = Membership.objects.select_related("trial", "user").get(pk=membership.pk)
    if not membership.is_active:
        raise DomainError("This membership has ended.")
    user = membership.user
    locked_until = account_locks(usernames=[user.username]).get(user.username)
    if locked_until is None:
        raise DomainError(f"{user.username}'s account is not locked.")
    attempts = AccessAttempt.objects.select_for_update().filter(username=user.username)
    rows = list(attempts)
    failures = sum(a.failures_since_start for a in rows)
    addresses = sorted({a.ip_address for a in rows if a.ip_address})
    cleared, _ = attempts.delete()
    audit_record(actor=actor, action=AuditAction.USER_UNLOCK, target=user, trial=membership.trial, reason=reason,
                 data={"username": user.username, "failures": failures, "addresses": addresses,
                       "locked_until": locked_until.isoformat()})
    return cleared


# --- participants and visits -------------------------------------------------------------------

def _visit_create(*, actor: User, participant: Participant, timepoint: TimepointDefinition) -> Visit:
    visit = Visit(participant=participant, timepoint=timepoint)
    _save(visit, actor)
    return visit


def _validate_subject_code(trial: Trial, site: Site, code: str) -> None:
    pattern = trial.subject_code_regex(site.number)
    if not re.fullmatch(pattern, code):
        example = trial.subject_code_example(site.number)
        shape = f"e.g. {example}" if example else trial.subject_code_pattern.replace("{site}", site.number)
        raise ValidationError({"subject_code": f"'{code}' does not match this trial's subject code format ({shape})."})


def _date_offset(trial: Trial) -> int:
    """A secret random shift into the past, the same for all of this participant's studies.

    At least a year (or a tenth of the maximum): a shift of a few days would hardly hide a date.
    """
    high = max(2, trial.deid_date_shift_max_days)
    low = max(1, min(365, high // 10))
    return -(low + secrets.randbelow(high - low + 1))


@transaction.atomic
def participant_enrol(
    *, actor: User, site: Site, subject_code: str, consent_date: dt.date | None = None,
    treatment_start_date: dt.date | None = None, arm: str = "", status: str = ParticipantStatus.ENROLLED,
) -> Participant:
    """Enrol a participant at a site and create their visits from the schedule."""
    require_site_perm(actor, "enrol_participant", site)
    site = Site.objects.select_related("trial").get(pk=site.pk)  # fresh: the pattern or status may have changed
    trial = site.trial
    refusal = trial.data_refusal("no new participants can be enrolled")
    if refusal:
        raise DomainError(refusal)
    if status not in (ParticipantStatus.SCREENING, ParticipantStatus.ENROLLED):
        raise ValidationError({"status": "A new participant is in screening or enrolled."})
    subject_code = subject_code.strip()
    _validate_subject_code(trial, site, subject_code)
    if Participant.objects.filter(trial=trial, subject_code=subject_code).exists():
        raise ValidationError({"subject_code": f"Subject code {subject_code} is already used in {trial.code}."})
    participant = Participant(
        trial=trial, site=site, subject_code=subject_code, status=status, consent_date=consent_date,
        treatment_start_date=treatment_start_date, arm=arm, deid_date_offset_days=_date_offset(trial),
    )
    _save(participant, actor)
    audit_record(actor=actor, action=AuditAction.PARTICIPANT_ENROL, target=participant, trial=trial,
                 changes=diff({}, snapshot(participant, PARTICIPANT_FIELDS)))
    for timepoint in TimepointDefinition.objects.filter(trial=trial).order_by("order"):
        _visit_create(actor=actor, participant=participant, timepoint=timepoint)
    return participant


@transaction.atomic
def participant_update(
    *, actor: User, participant: Participant, reason: str = "", **fields: Any
) -> Participant:
    """Record or correct consent / treatment-start dates and arm; correcting a recorded value needs a reason."""
    require_site_perm(actor, "enrol_participant", participant.site)
    allowed = ("consent_date", "treatment_start_date", "arm")
    participant = Participant.objects.select_for_update(of=("self",)).select_related("trial", "site").get(pk=participant.pk)
    before = snapshot(participant, allowed)
    _apply(participant, allowed, fields)
    changes = diff(before, snapshot(participant, allowed))
    if not changes:
        return participant
    corrected = [name for name, (old, _new) in changes.items() if old not in (None, "")]
    if corrected and not reason.strip():
        raise ValidationError({"reason": f"Give a reason for correcting {', '.join(corrected)}."})
    _save(participant, actor, reason)
    audit_record(actor=actor, action=AuditAction.PARTICIPANT_UPDATE, target=participant, trial=participant.trial,
                 reason=reason, changes=changes)
    return participant


@transaction.atomic
def participant_status_change(*, actor: User, participant: Participant, status: str, reason: str) -> Participant:
    """Move the participant to `status` (PARTICIPANT_STATUS_CONSEQUENCES); every change needs a reason."""
    require_site_perm(actor, "enrol_participant", participant.site)
    participant = Participant.objects.select_for_update(of=("self",)).select_related("trial").get(pk=participant.pk)
    PARTICIPANT_MACHINE.ensure(participant.status, status)
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for changing the participant's status."})
    transition(PARTICIPANT_MACHINE, participant, status, actor=actor, trial=participant.trial, reason=reason)
    return participant


@transaction.atomic
def visit_transition(
    *, actor: User | None, visit: Visit, state: str, reason: str = "", scan_date: dt.date | None = None,
    data: dict[str, Any] | None = None,
) -> Visit:
    """Move a visit's imaging workflow state (received, in QC, accepted, read).

    Callers are other services (imaging, reads) that have already checked the actor's right to
    do the business action that causes the move; this keeps the visit's state table in one place.
    """
    visit = Visit.objects.select_for_update(of=("self",)).select_related("participant__trial").get(pk=visit.pk)
    now = timezone.now()
    fields: dict[str, Any] = {} if scan_date is None else {"scan_date": scan_date}
    bookkeeping: dict[str, Any] = {}
    if state == VisitState.RECEIVED:
        # New images: QC looks again, and the re-upload QC asked for (if any) has arrived.
        fields["reupload_requested"] = False
        bookkeeping = {"received_at": visit.received_at or now, "accepted_at": None}
    if state == VisitState.ACCEPTED:
        bookkeeping = {"accepted_at": now}
    previous = visit.state
    transition(VISIT_MACHINE, visit, state, actor=actor, trial=visit.participant.trial, reason=reason, fields=fields,
               bookkeeping=bookkeeping, data=data, clean=True)
    visit_state_changed.send(sender=Visit, visit=visit, previous=previous, actor=actor)
    return visit


@transaction.atomic
def visit_reupload_request_set(*, actor: User | None, visit: Visit, requested: bool, reason: str) -> Visit:
    """Say whether QC waits for new images of this visit (the only writer of `reupload_requested`).

    Callers are the query services: the flag follows the open queries that ask for a re-upload,
    and those queries' moves are audited, so this derived flag is recorded in history only.
    A visit that has been read keeps refusing images whatever the flag says (`Visit.takes_images`).
    """
    visit = Visit.objects.select_for_update(of=("self",)).get(pk=visit.pk)
    if visit.reupload_requested != requested:
        visit.reupload_requested = requested
        stamp(visit, actor, reason)
        visit.save(update_fields=["reupload_requested"])
    return visit
