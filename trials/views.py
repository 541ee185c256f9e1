"""Pages of the trials app: role homes, trial set-up, members, participants and the visit grid."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from ictms.lib.errors import DomainError, NotFoundError
from ictms.lib.pages import run_service
from trials import selectors, services
from trials.choices import (
    PARTICIPANT_MACHINE,
    PARTICIPANT_STATUS_CONSEQUENCES,
    TRIAL_MACHINE,
    TRIAL_STATUS_CONSEQUENCES,
    Role,
    VisitStatus,
)
from trials.forms import (
    ChangeRoleForm,
    EnrolForm,
    ImagingRequirementForm,
    InviteForm,
    ParticipantDatesForm,
    ParticipantStatusForm,
    RemoveMemberForm,
    RequirementCopyForm,
    SiteForm,
    TimepointForm,
    TrialForm,
    TrialStatusForm,
    UnlockAccountForm,
)
from trials.models import (
    ImagingRequirement,
    Membership,
    Site,
    TimepointDefinition,
    Trial,
)
from trials.pages import trial_page
from trials.selectors import TrialAccess

# --- home pages ---------------------------------------------------------------------------------

@trial_page()
def trial_home(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """Each role lands on the page where its work is."""
    trial = access.trial
    if access.role == Role.SITE_COORDINATOR:
        return redirect("trials:participants", code=trial.code)
    # Readers and adjudicators work on the reads pages (named by URL: trials does not import reads).
    if access.role == Role.READER:
        return redirect("reads:worklist", code=trial.code)
    if access.role == Role.ADJUDICATOR:
        return redirect("reads:adjudications", code=trial.code)
    if access.role == Role.SPONSOR:
        return redirect("reads:dashboard", code=trial.code)
    context: dict[str, Any] = {"trial": trial, "access": access}
    if access.role == Role.TRIAL_ADMIN:
        context.update(
            sites=Site.objects.filter(trial=trial).count(),
            timepoints=TimepointDefinition.objects.filter(trial=trial).count(),
            requirements=ImagingRequirement.objects.filter(timepoint__trial=trial).count(),
            members=Membership.objects.filter(trial=trial, is_active=True).count(),
            participants=trial.participants.count(),
        )
        return render(request, "trials/home_admin.html", context)
    if access.role in (Role.AUDITOR, Role.QC_ANALYST):
        context.update(_progress(request, access))
    return render(request, f"trials/home_{access.role}.html", context)


def _progress(request: HttpRequest, access: TrialAccess) -> dict[str, Any]:
    """Enrolment per site and visit status counts, for the progress charts."""
    trial = access.trial
    per_site = list(
        selectors.site_list_for_user(user=request.user, trial=trial).annotate(n=Count("participants")).values("number", "name", "n")
    )
    today = dt.date.today()
    statuses = Counter(v.status(today).value for v in selectors.visit_list_for_user(user=request.user, trial=trial))
    order = [VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE, VisitStatus.RECEIVED, VisitStatus.IN_QC,
             VisitStatus.ACCEPTED, VisitStatus.READ, VisitStatus.NOT_SCHEDULED]
    status_rows = [(s.value, s.label, statuses.get(s.value, 0)) for s in order]
    top_site = max([row["n"] for row in per_site] + [1])
    top_status = max([n for _v, _l, n in status_rows] + [1])
    return {
        "per_site": [dict(row, pct=round(100 * row["n"] / top_site)) for row in per_site],
        "status_rows": [(v, label, n, round(100 * n / top_status)) for v, label, n in status_rows],
        "total_participants": sum(row["n"] for row in per_site),
    }


# --- trial set-up -------------------------------------------------------------------------------

@login_required
def trial_create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("trials.add_trial"):
        raise PermissionDenied
    form = TrialForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        trial = run_service(form, lambda: services.trial_create(actor=request.user, **form.cleaned_data))
        if trial:
            messages.success(request, f"Trial {trial.code} created. Add its sites, schedule and members next.")
            return redirect("trials:home", code=trial.code)
    return render(request, "trials/trial_form.html", {"form": form, "creating": True})


@trial_page("manage_trial")
def trial_settings(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    trial = access.trial
    allowed = TRIAL_MACHINE.choices_from(trial.status)
    form = TrialForm(instance=Trial.objects.get(pk=trial.pk))
    status_form = TrialStatusForm(allowed=allowed, consequences=TRIAL_STATUS_CONSEQUENCES, prefix="st")
    if request.method == "POST" and "st-status" in request.POST:
        status_form = TrialStatusForm(request.POST, allowed=allowed, consequences=TRIAL_STATUS_CONSEQUENCES, prefix="st")
        if status_form.is_valid() and not status_form.cleaned_data["confirmed"]:
            return _status_confirm(request, access, status_form, what=f"trial {trial.code}",
                                   current=trial.get_status_display(), back=reverse("trials:settings", args=[trial.code]))
        if status_form.is_valid() and run_service(status_form, lambda: services.trial_status_change(
                actor=request.user, trial=trial, status=status_form.cleaned_data["status"],
                reason=status_form.cleaned_data["reason"])):
            messages.success(request, f"Trial status changed to {status_form.status_label()}.")
            return redirect("trials:settings", code=trial.code)
    elif request.method == "POST":
        form = TrialForm(request.POST, instance=Trial.objects.get(pk=trial.pk))
        form.fields["code"].disabled = True
        if form.is_valid():
            values = {k: v for k, v in form.cleaned_data.items() if k != "code"}
            if run_service(form, lambda: services.trial_update(actor=request.user, trial=trial, **values)):
                messages.success(request, "Trial details saved.")
                return redirect("trials:settings", code=trial.code)
    form.fields["code"].disabled = True
    return render(request, "trials/trial_form.html", {
        "trial": trial, "access": access, "form": form, "status_form": status_form,
    })


def _status_confirm(request: HttpRequest, access: TrialAccess, form: TrialStatusForm | ParticipantStatusForm, *,
                    what: str, current: str, back: str) -> HttpResponse:
    """The second step of a status change: name what the new status does; confirming posts the same values back."""
    return render(request, "trials/status_confirm.html", {
        "trial": access.trial, "access": access, "form": form, "what": what, "current": current, "back": back,
        "target": form.status_label(), "consequence": form.consequence(),
    })


@trial_page("manage_trial")
def site_list(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    trial = access.trial
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and run_service(
            form, lambda: services.site_create(actor=request.user, trial=trial, **form.cleaned_data)):
        messages.success(request, f"Site {form.cleaned_data['number']} added.")
        return redirect("trials:sites", code=trial.code)
    sites = selectors.site_list_for_user(user=request.user, trial=trial).annotate(n_participants=Count("participants"))
    return render(request, "trials/site_list.html", {"trial": trial, "access": access, "sites": sites, "form": form})


@trial_page("manage_trial")
def site_edit(request: HttpRequest, access: TrialAccess, site_id: int) -> HttpResponse:
    trial = access.trial
    site = Site.objects.filter(trial=trial, pk=site_id).first()
    if site is None:
        raise Http404
    form = SiteForm(request.POST or None, instance=Site.objects.get(pk=site.pk))
    if request.method == "POST" and form.is_valid() and run_service(
            form, lambda: services.site_update(actor=request.user, site=site, **form.cleaned_data)):
        messages.success(request, f"Site {site.number} saved.")
        return redirect("trials:sites", code=trial.code)
    return render(request, "trials/site_edit.html", {"trial": trial, "access": access, "site": site, "form": form})


@trial_page("view_trial")
def schedule(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The visit schedule and imaging requirements; trial admins add and edit here."""
    trial = access.trial
    can_edit = access.can("manage_trial")
    form = TimepointForm(request.POST or None, prefix="tp")
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid() and run_service(form, lambda: services.timepoint_create(actor=request.user, trial=trial, **form.cleaned_data)):
            messages.success(request, f"Timepoint {form.cleaned_data['code']} added to the schedule.")
            return redirect("trials:schedule", code=trial.code)
    timepoints = selectors.timepoint_list_for_user(user=request.user, trial=trial)
    last = timepoints.last()
    if not form.is_bound:
        form = TimepointForm(prefix="tp", initial={"order": (last.order + 1) if last else 1, "required": True})
    return render(request, "trials/schedule.html", {
        "trial": trial, "access": access, "timepoints": timepoints, "form": form, "can_edit": can_edit,
    })


@trial_page("manage_trial")
def timepoint_edit(request: HttpRequest, access: TrialAccess, timepoint_id: int) -> HttpResponse:
    trial = access.trial
    timepoint = TimepointDefinition.objects.filter(trial=trial, pk=timepoint_id).first()
    if timepoint is None:
        raise Http404
    form = TimepointForm(request.POST or None, instance=TimepointDefinition.objects.get(pk=timepoint.pk), prefix="tp")
    req_form = ImagingRequirementForm(prefix="req")
    copy_form = RequirementCopyForm(prefix="copy", timepoint=timepoint)
    if request.method == "POST" and "copy" in request.POST:
        copy_form = RequirementCopyForm(request.POST, prefix="copy", timepoint=timepoint)
        form = TimepointForm(instance=timepoint, prefix="tp")
        if copy_form.is_valid():
            targets = list(copy_form.cleaned_data["targets"])
            created = run_service(copy_form, lambda: services.imaging_requirements_copy(
                actor=request.user, source=timepoint, targets=targets))
            if created is not None:
                where = ", ".join(t.code for t in targets)
                messages.success(request, f"{len(created)} imaging requirement{'s' if len(created) != 1 else ''} "
                                          f"copied to {where}." if created else f"{where} already had these requirements.")
                return redirect("trials:timepoint-edit", code=trial.code, timepoint_id=timepoint.pk)
    elif request.method == "POST" and "req-body_region" in request.POST:
        req_form = ImagingRequirementForm(request.POST, prefix="req")
        form = TimepointForm(instance=timepoint, prefix="tp")
        if req_form.is_valid() and run_service(req_form, lambda: services.imaging_requirement_create(
                actor=request.user, timepoint=timepoint, **req_form.cleaned_data)):
            messages.success(request, "Imaging requirement added.")
            return redirect("trials:timepoint-edit", code=trial.code, timepoint_id=timepoint.pk)
    elif request.method == "POST" and form.is_valid() and run_service(
            form, lambda: services.timepoint_update(actor=request.user, timepoint=timepoint, **form.cleaned_data)):
        messages.success(request, f"Timepoint {timepoint.code} saved.")
        return redirect("trials:schedule", code=trial.code)
    return render(request, "trials/timepoint_edit.html", {
        "trial": trial, "access": access, "timepoint": timepoint, "form": form, "req_form": req_form,
        "copy_form": copy_form,
        "requirements": timepoint.imaging_requirements.order_by("id"),
    })


@trial_page("manage_trial")
def requirement_edit(request: HttpRequest, access: TrialAccess, requirement_id: int) -> HttpResponse:
    trial = access.trial
    requirement = ImagingRequirement.objects.select_related("timepoint__trial").filter(
        timepoint__trial=trial, pk=requirement_id).first()
    if requirement is None:
        raise Http404
    if request.method == "POST" and "delete" in request.POST:
        services.imaging_requirement_delete(actor=request.user, requirement=requirement, reason=request.POST.get("reason", ""))
        messages.success(request, "Imaging requirement removed.")
        return redirect("trials:timepoint-edit", code=trial.code, timepoint_id=requirement.timepoint_id)
    form = ImagingRequirementForm(request.POST or None, instance=ImagingRequirement.objects.get(pk=requirement.pk))
    if request.method == "POST" and form.is_valid() and run_service(
            form, lambda: services.imaging_requirement_update(actor=request.user, requirement=requirement, **form.cleaned_data)):
        messages.success(request, "Imaging requirement saved.")
        return redirect("trials:timepoint-edit", code=trial.code, timepoint_id=requirement.timepoint_id)
    return render(request, "trials/requirement_edit.html", {
        "trial": trial, "access": access, "requirement": requirement, "form": form,
    })


# --- members ------------------------------------------------------------------------------------

@trial_page("manage_trial")
def member_list(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    trial = access.trial
    form = InviteForm(request.POST or None, trial=trial)
    if request.method == "POST" and form.is_valid():
        outcome = run_service(form, lambda: services.membership_invite(actor=request.user, trial=trial, **form.cleaned_data))
        if outcome:
            if outcome.membership is not None:
                membership = outcome.membership
                messages.success(request, f"{membership.user.username} is now {membership.get_role_display()}. "
                                          "An e-mail with a link to choose a password was sent.")
            else:
                invitation = outcome.invitation
                messages.success(request, f"An invitation was e-mailed to {outcome.email}. They become "
                                          f"{invitation.get_role_display()} when they accept it.")
            return redirect("trials:members", code=trial.code)
    show_ended = request.GET.get("ended") == "1"
    members = list(selectors.membership_list_for_trial(user=request.user, trial=trial, include_ended=show_ended))
    locks = selectors.account_locks(usernames=[m.user.username for m in members if m.is_active])
    now = timezone.now()
    invitations = [(i, i.shown_state(now), i.shown_state_label(now))
                   for i in selectors.invitation_list_for_trial(user=request.user, trial=trial)[:100]]
    return render(request, "trials/member_list.html", {
        "trial": trial, "access": access, "form": form, "show_ended": show_ended,
        "members": [(m, locks.get(m.user.username)) for m in members], "invitations": invitations,
    })


@trial_page("manage_trial")
def invitation_revoke(request: HttpRequest, access: TrialAccess, invitation_id: int) -> HttpResponse:
    """POST: withdraw a pending invitation of this trial (the members page's button)."""
    trial = access.trial
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    invitation = selectors.invitation_list_for_trial(user=request.user, trial=trial).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        services.invitation_revoke(actor=request.user, invitation=invitation, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation of {invitation.email} is revoked: its link no longer works.")
    return redirect("trials:members", code=trial.code)


@login_required
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invited account's owner accepts or declines (the e-mailed link and the home page lead here)."""
    try:
        found = selectors.invitation_get_by_token(user=request.user, token=token)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    if request.method == "POST":
        decision = request.POST.get("decision")
        try:
            if decision == "accept":
                membership = services.invitation_accept(actor=request.user, invitation=found)
                messages.success(request, f"You are now {membership.get_role_display()} in {membership.trial.code}.")
                return redirect("trials:home", code=membership.trial.code)
            if decision == "decline":
                services.invitation_decline(actor=request.user, invitation=found, reason=request.POST.get("reason", ""))
                messages.success(request, f"You declined the invitation to {found.trial.code}.")
                return redirect("home")
            messages.error(request, "Choose Accept or Decline.")
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("trials:invitation", token=token)
    now = timezone.now()
    return render(request, "trials/invitation.html", {
        "invitation": found, "state": found.shown_state(now), "state_label": found.shown_state_label(now),
    })


@trial_page("manage_trial")
def member_edit(request: HttpRequest, access: TrialAccess, membership_id: int) -> HttpResponse:
    trial = access.trial
    membership = selectors.membership_list_for_trial(user=request.user, trial=trial).filter(pk=membership_id).first()
    if membership is None:
        raise Http404
    role_form = ChangeRoleForm(initial={"role": membership.role, "site": membership.site_id}, trial=trial, prefix="role")
    remove_form = RemoveMemberForm(prefix="rm")
    unlock_form = UnlockAccountForm(prefix="unlock")
    if request.method == "POST" and "unlock-reason" in request.POST:
        unlock_form = UnlockAccountForm(request.POST, prefix="unlock")
        if unlock_form.is_valid() and run_service(unlock_form, lambda: services.member_unlock(
                actor=request.user, membership=membership, **unlock_form.cleaned_data)) is not None:
            messages.success(request, f"{membership.user.username}'s account is unlocked: they can log in again.")
            return redirect("trials:member-edit", code=trial.code, membership_id=membership.pk)
    elif request.method == "POST" and "role-role" in request.POST:
        role_form = ChangeRoleForm(request.POST, trial=trial, prefix="role")
        if role_form.is_valid() and run_service(role_form, lambda: services.membership_change_role(
                actor=request.user, membership=membership, **role_form.cleaned_data)):
            messages.success(request, f"Role of {membership.user.username} changed.")
            return redirect("trials:members", code=trial.code)
    elif request.method == "POST" and "rm-reason" in request.POST:
        remove_form = RemoveMemberForm(request.POST, prefix="rm")
        if remove_form.is_valid() and run_service(remove_form, lambda: services.membership_remove(
                actor=request.user, membership=membership, **remove_form.cleaned_data)):
            messages.success(request, f"{membership.user.username} removed from {trial.code}.")
            return redirect("trials:members", code=trial.code)
    locked_until = selectors.account_locks(usernames=[membership.user.username]).get(membership.user.username)
    return render(request, "trials/member_edit.html", {
        "trial": trial, "access": access, "membership": membership, "role_form": role_form, "remove_form": remove_form,
        "unlock_form": unlock_form, "locked_until": locked_until, "failure_limit": settings.AXES_FAILURE_LIMIT,
    })


# --- participants and visits ----------------------------------------------------------------------

def _site_filter(request: HttpRequest, access: TrialAccess) -> Site | None:
    number = request.GET.get("site")
    if not number:
        return None
    site = selectors.site_list_for_user(user=request.user, trial=access.trial).filter(number=number).first()
    if site is None:
        raise Http404("No such site.")
    return site


@trial_page()
def participant_list(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    trial = access.trial
    if not (access.all_sites or access.site_ids):
        raise PermissionDenied  # blinded roles never see participants
    site = _site_filter(request, access)
    enrol_sites = Site.objects.filter(pk__in=[]) if not access.can("enrol_participant") else Site.objects.filter(
        pk__in=access.site_ids, is_active=True)
    form = EnrolForm(request.POST or None, sites=enrol_sites)
    enrol_refusal = trial.data_refusal("no new participants can be enrolled")
    if request.method == "POST":
        if not access.can("enrol_participant"):
            raise PermissionDenied
        if enrol_refusal:  # the form is not offered; a stale page's submit is refused before the form is read
            messages.error(request, enrol_refusal)
            return redirect(request.get_full_path())
        if form.is_valid():
            values = dict(form.cleaned_data)
            participant = run_service(form, lambda: services.participant_enrol(actor=request.user, **values))
            if participant:
                messages.success(request, f"Participant {participant.subject_code} enrolled.")
                return redirect("trials:participant", code=trial.code, participant_id=participant.pk)
    participants = selectors.participant_list_for_user(user=request.user, trial=trial, site=site)
    arm_visible = selectors.participant_arm_visibility(user=request.user)
    rows = [(p, p.arm if arm_visible(p) else None) for p in participants]
    sites = selectors.site_list_for_user(user=request.user, trial=trial)
    return render(request, "trials/participant_list.html", {
        "trial": trial, "access": access, "rows": rows, "form": form, "sites": sites, "site": site,
        "can_enrol": access.can("enrol_participant") and not enrol_refusal,
        "enrol_refusal": enrol_refusal if access.can("enrol_participant") else "",
        "show_arm": any(a is not None for _p, a in rows),
        "pattern": trial.subject_code_pattern,
        "code_example": trial.subject_code_example(first.number if (first := enrol_sites.first()) else "101"),
    })


@trial_page()
def participant_detail(request: HttpRequest, access: TrialAccess, participant_id: int) -> HttpResponse:
    trial = access.trial
    participant = selectors.participant_list_for_user(user=request.user, trial=trial).filter(pk=participant_id).first()
    if participant is None:
        raise Http404("No such participant.")
    can_edit = request.user.has_perm("trials.enrol_participant", participant.site)
    arm_visible = selectors.participant_arm_visibility(user=request.user)(participant)
    allowed = PARTICIPANT_MACHINE.choices_from(participant.status)
    dates_form = ParticipantDatesForm(instance=participant, prefix="d")
    status_form = ParticipantStatusForm(allowed=allowed, consequences=PARTICIPANT_STATUS_CONSEQUENCES, prefix="s")
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if "d-reason" in request.POST:
            dates_form = ParticipantDatesForm(request.POST, instance=type(participant).objects.get(pk=participant.pk), prefix="d")
            if dates_form.is_valid():
                values = dict(dates_form.cleaned_data)
                reason = values.pop("reason", "")
                if run_service(dates_form, lambda: services.participant_update(
                        actor=request.user, participant=participant, reason=reason, **values)):
                    messages.success(request, "Participant saved.")
                    return redirect("trials:participant", code=trial.code, participant_id=participant.pk)
        else:
            status_form = ParticipantStatusForm(request.POST, allowed=allowed, consequences=PARTICIPANT_STATUS_CONSEQUENCES,
                                                prefix="s")
            if status_form.is_valid() and not status_form.cleaned_data["confirmed"]:
                return _status_confirm(
                    request, access, status_form, what=f"participant {participant.subject_code}",
                    current=participant.get_status_display(),
                    back=reverse("trials:participant", args=[trial.code, participant.pk]))
            if status_form.is_valid() and run_service(status_form, lambda: services.participant_status_change(
                    actor=request.user, participant=participant, status=status_form.cleaned_data["status"],
                    reason=status_form.cleaned_data["reason"])):
                messages.success(request, f"Participant status changed to {status_form.status_label()}.")
                return redirect("trials:participant", code=trial.code, participant_id=participant.pk)
    today = dt.date.today()
    visits = [(v, v.status(today), v.window()) for v in selectors.visit_list_for_user(
        user=request.user, trial=trial, participant=participant)]
    return render(request, "trials/participant_detail.html", {
        "trial": trial, "access": access, "participant": participant, "visits": visits, "can_edit": can_edit,
        "arm_visible": arm_visible, "dates_form": dates_form, "status_form": status_form, "allowed": allowed,
    })


@trial_page()
def visit_grid(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    trial = access.trial
    if not (access.all_sites or access.site_ids):
        raise PermissionDenied
    site = _site_filter(request, access)
    timepoints, rows = selectors.visit_grid(user=request.user, trial=trial, site=site, today=dt.date.today())
    sites = selectors.site_list_for_user(user=request.user, trial=trial)
    legend = [VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE, VisitStatus.RECEIVED, VisitStatus.IN_QC,
              VisitStatus.ACCEPTED, VisitStatus.READ, VisitStatus.NOT_SCHEDULED]
    return render(request, "trials/visit_grid.html", {
        "trial": trial, "access": access, "timepoints": timepoints, "rows": rows, "sites": sites, "site": site,
        "legend": legend, "today": dt.date.today(),
    })
