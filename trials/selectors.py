"""Reads of the trials app, always scoped to what the calling user may see."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.core import signing
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user, get_perms

from ictms.lib.errors import NotFoundError
from ictms.lib.users import AnyUser
from trials.choices import BLINDED_ROLES, InvitationState, Role, VisitStatus
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


def _authenticated(user: AnyUser) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _user_id(user: AnyUser) -> int:
    """The id of a signed-in user (callers check `_authenticated` first; the anonymous user has none)."""
    if user.pk is None:
        raise ValueError("the anonymous user has no memberships")
    return user.pk


def login_lockout() -> dt.timedelta:
    """How long a lock lasts after its last failed log-in (LOGIN_LOCKOUT_MINUTES, read by django-axes)."""
    from axes.helpers import get_cool_off

    return get_cool_off() or dt.timedelta(0)


def account_locks(*, usernames: Iterable[str]) -> dict[str, dt.datetime]:
    """The accounts among `usernames` that django-axes refuses now from some address, each with when
    its last lock ends by itself.

    Axes (database handler, ictms.lib.lockout) counts the failures per (account, client address) of
    the attempts newer than the cool-off; at AXES_FAILURE_LIMIT the account is locked from that
    address until the cool-off after its last failure there. An account is locked when any address
    is. (An address blocked as a whole for failing against many accounts is not an account's lock.)
    One query.
    """
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.db.models import Max, Sum
    from django.utils import timezone

    cool_off = login_lockout()
    rows = (
        AccessAttempt.objects.filter(username__in=list(usernames), attempt_time__gte=timezone.now() - cool_off)
        .values("username", "ip_address").annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .order_by()
    )
    locks: dict[str, dt.datetime] = {}
    for row in rows:
        if row["failures"] >= settings.AXES_FAILURE_LIMIT:
            until = row["last"] + cool_off
            locks[row["username"]] = max(until, locks.get(row["username"], until))
    return locks


def trial_list_for_user(*, user: AnyUser) -> QuerySet[Trial]:
    if not _authenticated(user):
        return Trial.objects.none()
    return get_objects_for_user(user, "trials.view_trial", klass=Trial, accept_global_perms=False)


def trial_get_for_user(*, user: AnyUser, code: str) -> Trial:
    trial = trial_list_for_user(user=user).filter(code=code).first()
    if trial is None:
        raise NotFoundError("No such trial.")
    return trial


def trials_with(user: AnyUser, perm: str) -> QuerySet[Trial]:
    """Trials where the signed-in user holds `perm` (none for anonymous); other apps scope their lists by it."""
    if not _authenticated(user):
        return Trial.objects.none()
    return get_objects_for_user(user, perm, klass=Trial, accept_global_perms=False)


def _sites_with(user: AnyUser, perm: str) -> QuerySet[Site]:
    if not _authenticated(user):
        return Site.objects.none()
    return get_objects_for_user(user, perm, klass=Site, accept_global_perms=False)


@dataclass(frozen=True)
class TrialAccess:
    """What one user may do in one trial, computed once per request."""

    trial: Trial
    role: str | None
    perms: frozenset[str]
    site_ids: frozenset[int]  # sites where the user has site-level rights (site roles)
    site_perms: frozenset[str]

    def can(self, perm: str) -> bool:
        return perm in self.perms or perm in self.site_perms

    @property
    def all_sites(self) -> bool:
        return "view_all_sites" in self.perms

    @property
    def blinded(self) -> bool:
        return self.role in BLINDED_ROLES

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""


def trial_access(*, user: AnyUser, trial: Trial) -> TrialAccess:
    if not _authenticated(user):
        return TrialAccess(trial, None, frozenset(), frozenset(), frozenset())
    membership = Membership.objects.filter(user_id=_user_id(user), trial=trial, is_active=True).only("role").first()
    site_rows = _sites_with(user, "trials.view_site_data").filter(trial=trial)
    site_ids = frozenset(site_rows.values_list("id", flat=True))
    site_perms: set[str] = set()
    if site_ids:
        site_perms = set(get_perms(user, Site.objects.get(pk=min(site_ids))))
    return TrialAccess(
        trial=trial,
        role=membership.role if membership else None,
        perms=frozenset(get_perms(user, trial)),
        site_ids=site_ids,
        site_perms=frozenset(site_perms),
    )


def membership_list_for_user(*, user: AnyUser) -> QuerySet[Membership]:
    """The caller's own active memberships (for navigation and role home pages)."""
    if not _authenticated(user):
        return Membership.objects.none()
    return Membership.objects.filter(user_id=_user_id(user), is_active=True).select_related("trial", "site").order_by("trial__code")


def membership_list_for_trial(*, user: AnyUser, trial: Trial | None = None, include_ended: bool = False) -> QuerySet[Membership]:
    """Memberships of trials the caller administers."""
    qs = Membership.objects.filter(trial__in=trials_with(user, "trials.manage_trial")).select_related("user", "trial", "site")
    if trial is not None:
        qs = qs.filter(trial=trial)
    if not include_ended:
        qs = qs.filter(is_active=True)
    return qs.order_by("trial__code", "role", "user__username")


INVITATION_LINK_SALT = "trials.invitation"


def invitation_token(invitation: Invitation) -> str:
    """The token of the invitation's link: its id, signed with the secret key (nothing secret is stored).

    It is the same for the life of the invitation (the home page and the e-mail show one link); when
    it stops working is the invitation's state and expiry, not the token's.
    """
    return signing.Signer(salt=INVITATION_LINK_SALT).sign_object(invitation.pk)


def invitation_list_for_trial(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[Invitation]:
    """Invitations of trials the caller administers (what the admin may know of them: no account details)."""
    qs = Invitation.objects.filter(trial__in=trials_with(user, "trials.manage_trial")).select_related("trial", "site")
    if trial is not None:
        qs = qs.filter(trial=trial)
    return qs.order_by("-created_at", "-id")


def invitation_list_for_user(*, user: AnyUser, pending_only: bool = False) -> QuerySet[Invitation]:
    """The caller's own invitations (pending and not yet expired with `pending_only`), newest first."""
    if not _authenticated(user):
        return Invitation.objects.none()
    qs = Invitation.objects.filter(user_id=_user_id(user)).select_related("trial", "site", "invited_by")
    if pending_only:
        qs = qs.filter(state=InvitationState.PENDING, expires_at__gt=timezone.now())
    return qs.order_by("-created_at", "-id")


def invitation_visible_to(*, user: AnyUser) -> QuerySet[Invitation]:
    """Invitations the caller may see at all: their own, and those of trials they administer (the API's scope)."""
    if not _authenticated(user):
        return Invitation.objects.none()
    return Invitation.objects.filter(
        Q(user_id=_user_id(user)) | Q(trial__in=trials_with(user, "trials.manage_trial"))
    ).select_related("trial", "site").order_by("-created_at", "-id")


def invitation_get_by_token(*, user: AnyUser, token: str) -> Invitation:
    """The caller's own invitation named by a link's token; a bad token or someone else's invitation: 404."""
    try:
        pk = signing.Signer(salt=INVITATION_LINK_SALT).unsign_object(token)
    except signing.BadSignature:
        raise NotFoundError("No such invitation.") from None
    invitation = invitation_list_for_user(user=user).filter(pk=pk).first() if isinstance(pk, int) else None
    if invitation is None:
        raise NotFoundError("No such invitation.")
    return invitation


def site_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[Site]:
    """Sites whose existence the caller may know: all of a trial for core-lab roles, their own for sites."""
    qs = Site.objects.filter(
        Q(trial__in=trials_with(user, "trials.view_all_sites")) | Q(pk__in=_sites_with(user, "trials.view_site_data"))
    ).select_related("trial")
    if trial is not None:
        qs = qs.filter(trial=trial)
    return qs.order_by("trial__code", "number")


def participant_list_for_user(*, user: AnyUser, trial: Trial | None = None, site: Site | None = None) -> QuerySet[Participant]:
    qs = Participant.objects.filter(
        Q(trial__in=trials_with(user, "trials.view_all_sites")) | Q(site__in=_sites_with(user, "trials.view_site_data"))
    ).select_related("trial", "site")
    if trial is not None:
        qs = qs.filter(trial=trial)
    if site is not None:
        qs = qs.filter(site=site)
    return qs.order_by("trial__code", "subject_code")


def participant_get_for_user(*, user: AnyUser, pk: int) -> Participant:
    participant = participant_list_for_user(user=user).filter(pk=pk).first()
    if participant is None:
        raise NotFoundError("No such participant.")
    return participant


def participant_scope(*, user: AnyUser, prefix: str = "") -> Q:
    """A filter on `<prefix>trial` / `<prefix>site` for participants the user may see.

    Other apps use it to scope their own rows (e.g. prefix "visit__participant__").
    """
    return Q(**{f"{prefix}trial__in": trials_with(user, "trials.view_all_sites")}) | Q(
        **{f"{prefix}site__in": _sites_with(user, "trials.view_site_data")}
    )


def visit_list_for_user(*, user: AnyUser, trial: Trial | None = None, participant: Participant | None = None) -> QuerySet[Visit]:
    qs = Visit.objects.filter(
        Q(participant__trial__in=trials_with(user, "trials.view_all_sites"))
        | Q(participant__site__in=_sites_with(user, "trials.view_site_data"))
    ).select_related("participant__site", "participant__trial", "timepoint")
    if trial is not None:
        qs = qs.filter(participant__trial=trial)
    if participant is not None:
        qs = qs.filter(participant=participant)
    return qs.order_by("participant__subject_code", "timepoint__order")


def visit_get_for_user(*, user: AnyUser, pk: int) -> Visit:
    visit = visit_list_for_user(user=user).filter(pk=pk).first()
    if visit is None:
        raise NotFoundError("No such visit.")
    return visit


def timepoint_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[TimepointDefinition]:
    qs = TimepointDefinition.objects.filter(trial__in=trial_list_for_user(user=user)).select_related("trial")
    if trial is not None:
        qs = qs.filter(trial=trial)
    return qs.prefetch_related(
        Prefetch("imaging_requirements", queryset=ImagingRequirement.objects.order_by("id"))
    ).order_by("trial__code", "order")


def imaging_requirement_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[ImagingRequirement]:
    qs = ImagingRequirement.objects.filter(timepoint__trial__in=trial_list_for_user(user=user)).select_related(
        "timepoint__trial"
    )
    if trial is not None:
        qs = qs.filter(timepoint__trial=trial)
    return qs.order_by("timepoint__order", "id")


@dataclass(frozen=True)
class GridRow:
    participant: Participant
    # (visit, status, may the caller submit images to it now) per timepoint, in schedule order
    cells: list[tuple[Visit | None, VisitStatus | None, bool]]


def visit_grid(*, user: AnyUser, trial: Trial, site: Site | None = None, today: dt.date) -> tuple[list[TimepointDefinition], list[GridRow]]:
    """Participants × timepoints with each visit's status, in four queries whatever the size.

    A cell may take images when the caller holds the upload right at the participant's site and
    the visit takes images (`Visit.image_refusal`, the rule the submission service applies).
    """
    timepoints = list(TimepointDefinition.objects.filter(trial=trial).order_by("order"))
    upload_sites = set(_sites_with(user, "trials.upload_images").filter(trial=trial).values_list("id", flat=True))
    participants = list(participant_list_for_user(user=user, trial=trial, site=site))
    visits = visit_list_for_user(user=user, trial=trial)
    if site is not None:
        visits = visits.filter(participant__site=site)
    by_key = {(v.participant_id, v.timepoint_id): v for v in visits}
    rows = []
    for participant in participants:
        cells = []
        for tp in timepoints:
            visit = by_key.get((participant.pk, tp.pk))
            may_upload = visit is not None and participant.site_id in upload_sites and not visit.image_refusal()
            cells.append((visit, visit.status(today) if visit else None, may_upload))
        rows.append(GridRow(participant, cells))
    return timepoints, rows


def participant_arm_visibility(*, user: AnyUser):  # -> Callable[[Participant], bool]
    """A predicate telling whether the caller may see a participant's (unblinded) treatment arm."""
    trial_ids = set(trials_with(user, "trials.view_participant_arm").values_list("id", flat=True))
    site_ids = set(_sites_with(user, "trials.enrol_participant").values_list("id", flat=True))
    return lambda participant: participant.trial_id in trial_ids or participant.site_id in site_ids


@dataclass(frozen=True)
class OverdueVisit:
    visit: Visit
    status: VisitStatus
    window: tuple[dt.date, dt.date]
    days_late: int


def visit_overdue_list(*, user: AnyUser, trial: Trial, site: Site | None = None, today: dt.date) -> list[OverdueVisit]:
    """Visits whose window has closed without accepted imaging, most late first.

    "Closed" uses the same window as the visit grid (Visit.window); a visit without a window
    (no treatment start yet, event-driven timepoint) cannot be late, and participants who left
    the trial owe no more visits.
    """
    from trials.choices import ParticipantStatus, VisitState

    visits = (
        visit_list_for_user(user=user, trial=trial)
        .filter(state__in=(VisitState.EXPECTED, VisitState.RECEIVED, VisitState.IN_QC),
                participant__treatment_start_date__isnull=False, timepoint__nominal_day__isnull=False)
        .exclude(participant__status__in=(ParticipantStatus.WITHDRAWN, ParticipantStatus.SCREEN_FAILED))
    )
    if site is not None:
        visits = visits.filter(participant__site=site)
    rows = []
    for visit in visits:
        window = visit.window()
        if window is not None and window[1] < today:
            # The site is late only until its images arrived: the core lab's review time is not held against it.
            until = timezone.localdate(visit.received_at) if visit.received_at and visit.state != VisitState.EXPECTED else today
            rows.append(OverdueVisit(visit, visit.status(today), window, max(0, (min(until, today) - window[1]).days)))
    rows.sort(key=lambda r: (-r.days_late, r.visit.participant.subject_code, r.visit.timepoint.order))
    return rows
