"""Trials services: rules, transitions, audit events and history, for allowed and forbidden actors."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, InvalidTransition, NotFoundError, PermissionDeniedError
from tests.trials import factories as f
from trials import services
from trials.choices import Role, VisitState
from trials.models import Membership, Participant, Trial, Visit


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def test_enrol_creates_visits_for_the_whole_schedule_and_audits(world):
    p = services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="101-002",
                                   treatment_start_date=dt.date(2026, 1, 10))
    assert [v.timepoint.code for v in p.visits.order_by("timepoint__order")] == ["BL", "W8", "W16"]
    event = last_event("participant.enrol")
    assert event.actor == world.coordinator and event.target_id == str(p.pk) and event.trial == world.trial
    assert event.changes["subject_code"] == [None, "101-002"]
    assert p.history.first().history_user == world.coordinator


def test_enrol_gives_each_participant_a_secret_nonzero_date_offset(world):
    p = services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="101-003")
    assert p.deid_date_offset_days != 0 and abs(p.deid_date_offset_days) <= world.trial.deid_date_shift_max_days


@pytest.mark.parametrize("code", ["102-001", "101-01", "101-0001", "ABC", "101_001", " "])
def test_subject_code_must_match_the_trial_pattern_for_the_site(world, code):
    with pytest.raises(ValidationError) as exc:
        services.participant_enrol(actor=world.coordinator, site=world.site, subject_code=code)
    assert "subject_code" in exc.value.message_dict


def test_subject_code_is_unique_in_the_trial(world):
    with pytest.raises(ValidationError, match="already used"):
        services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="101-001")


def test_the_same_subject_code_may_exist_in_another_trial(world):
    site = f.SiteFactory(trial=world.other_trial, number="101")
    coordinator = f.member(world.other_trial, Role.SITE_COORDINATOR, site=site, username="coord_b101")
    assert services.participant_enrol(actor=coordinator, site=site, subject_code="101-001").pk


def test_a_custom_pattern_is_enforced(world):
    services.trial_update(actor=world.admin, trial=world.trial, subject_code_pattern=r"S{site}[A-Z]{2}\d{2}")
    with pytest.raises(ValidationError):
        services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="101-009")
    assert services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="S101AB12")


def test_an_invalid_pattern_is_refused(world):
    with pytest.raises(ValidationError):
        services.trial_update(actor=world.admin, trial=world.trial, subject_code_pattern="([")


@pytest.mark.parametrize("actor,error", [
    ("other_coordinator", NotFoundError), ("qc", PermissionDeniedError), ("admin", PermissionDeniedError),
    ("reader", NotFoundError), ("coordinator_b", NotFoundError), ("outsider", NotFoundError),
])
def test_only_the_sites_coordinator_enrols(world, actor, error):
    with pytest.raises(error):
        services.participant_enrol(actor=world.user(actor), site=world.site, subject_code="101-050")
    assert not Participant.objects.filter(subject_code="101-050").exists()


def test_no_enrolment_in_a_locked_trial(world):
    services.trial_status_change(actor=world.admin, trial=world.trial, status="locked", reason="database lock")
    with pytest.raises(DomainError):
        services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="101-060")


def test_correcting_a_recorded_date_needs_a_reason(world):
    p = world.participant
    with pytest.raises(ValidationError, match="reason"):
        services.participant_update(actor=world.coordinator, participant=p, treatment_start_date=dt.date(2026, 2, 1))
    services.participant_update(actor=world.coordinator, participant=p, treatment_start_date=dt.date(2026, 2, 1),
                                reason="typo in source")
    event = last_event("participant.update")
    assert event.reason == "typo in source" and event.changes["treatment_start_date"][1] == "2026-02-01"


def test_recording_a_first_value_needs_no_reason(world):
    services.participant_update(actor=world.coordinator, participant=world.participant, consent_date=dt.date(2026, 1, 1))
    assert Participant.objects.get(pk=world.participant.pk).consent_date == dt.date(2026, 1, 1)


def test_participant_status_follows_its_state_machine(world):
    p = world.participant
    with pytest.raises(ValidationError):
        services.participant_status_change(actor=world.coordinator, participant=p, status="withdrawn", reason="  ")
    services.participant_status_change(actor=world.coordinator, participant=p, status="withdrawn", reason="consent withdrawn")
    with pytest.raises(InvalidTransition):
        services.participant_status_change(actor=world.coordinator, participant=p, status="enrolled", reason="back")


def test_trial_status_transitions(world):
    with pytest.raises(InvalidTransition):
        services.trial_status_change(actor=world.admin, trial=world.trial, status="closed", reason="done")
    with pytest.raises(ValidationError, match="reason"):
        services.trial_status_change(actor=world.admin, trial=world.trial, status="locked", reason=" ")
    assert Trial.objects.get(pk=world.trial.pk).status == "active"
    services.trial_status_change(actor=world.admin, trial=world.trial, status="locked", reason="database lock")
    with pytest.raises(ValidationError):
        services.trial_status_change(actor=world.admin, trial=world.trial, status="active", reason="")
    services.trial_status_change(actor=world.admin, trial=world.trial, status="active", reason="late data")
    assert last_event("trial.status_change").reason == "late data"


def test_a_participant_status_change_needs_a_reason_whatever_the_target(world):
    p = world.participant
    with pytest.raises(ValidationError, match="reason"):
        services.participant_status_change(actor=world.coordinator, participant=p, status="completed", reason="")
    assert Participant.objects.get(pk=p.pk).status == "enrolled"


def test_adding_a_timepoint_creates_visits_for_enrolled_participants(world):
    tp = services.timepoint_create(actor=world.admin, trial=world.trial, code="W24", label="Week 24", order=4,
                                   nominal_day=168, window_before=7, window_after=7)
    assert Visit.objects.filter(timepoint=tp).count() == 2  # 101-001 and 102-001
    assert last_event("timepoint.create").changes["code"] == [None, "W24"]


def test_timepoint_code_and_order_are_unique_and_one_baseline(world):
    with pytest.raises(ValidationError):
        services.timepoint_create(actor=world.admin, trial=world.trial, code="W8", label="dup", order=9)
    with pytest.raises(ValidationError):
        services.timepoint_create(actor=world.admin, trial=world.trial, code="X", label="dup", order=1)
    with pytest.raises(ValidationError):
        services.timepoint_create(actor=world.admin, trial=world.trial, code="BL2", label="b", order=8, is_baseline=True)


def test_site_numbers_and_ae_titles_are_validated(world):
    with pytest.raises(ValidationError):
        services.site_create(actor=world.admin, trial=world.trial, number="101", name="dup", country="DE")
    with pytest.raises(ValidationError):
        services.site_create(actor=world.admin, trial=world.trial, number="12a", name="x", country="DE")
    with pytest.raises(ValidationError):
        services.site_create(actor=world.admin, trial=world.trial, number="130", name="x", country="Germany")
    with pytest.raises(ValidationError):
        services.site_create(actor=world.admin, trial=world.trial, number="131", name="x", country="DE",
                             ae_title="WAY_TOO_LONG_AE_TITLE")
    site = services.site_create(actor=world.admin, trial=world.trial, number="140", name="x", country="IT", ae_title="pacs1")
    assert site.ae_title == "PACS1"


def test_site_update_records_before_and_after(world):
    services.site_update(actor=world.admin, site=world.site, name="Renamed")
    assert last_event("site.update").changes == {"name": ["Site 101", "Renamed"]}


def test_invite_creates_an_account_and_emails_a_password_link(world, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.membership_invite(actor=world.admin, trial=world.trial, email="New.Person@Example.org",
                                             role=Role.SITE_COORDINATOR, site=world.other_site, first_name="New")
    m = outcome.membership
    assert outcome.created_user and outcome.invitation is None
    assert not m.user.has_usable_password() and m.site == world.other_site
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body
    assert m.user.has_perm("trials.upload_images", world.other_site)
    assert not m.user.has_perm("trials.upload_images", world.site)


def test_invite_of_an_existing_user_is_an_invitation_not_a_membership(world):
    outcome = services.membership_invite(actor=world.admin, trial=world.trial, email=world.outsider.email,
                                         role=Role.READER)
    assert not outcome.created_user and outcome.membership is None and outcome.invitation.user == world.outsider
    assert not Membership.objects.filter(user=world.outsider, trial=world.trial).exists()
    assert not world.outsider.has_perm("trials.read_images", world.trial)


def test_a_site_role_needs_a_site_of_this_trial(world):
    with pytest.raises(ValidationError):
        services.membership_invite(actor=world.admin, trial=world.trial, email="x@example.org", role=Role.SITE_COORDINATOR)
    with pytest.raises(ValidationError):
        services.membership_invite(actor=world.admin, trial=world.trial, email="x@example.org",
                                   role=Role.SITE_COORDINATOR, site=world.site_b)


def test_one_active_membership_per_trial(world):
    with pytest.raises(DomainError):
        services.membership_invite(actor=world.admin, trial=world.trial, email=world.qc.email, role=Role.SPONSOR)


def test_changing_a_role_moves_the_permissions(world):
    m = Membership.objects.get(user=world.coordinator, trial=world.trial)
    services.membership_change_role(actor=world.admin, membership=m, role=Role.SITE_COORDINATOR, site=world.other_site,
                                    reason="moved to Lyon")
    world.coordinator = type(world.coordinator).objects.get(pk=world.coordinator.pk)  # drop the permission cache
    assert world.coordinator.has_perm("trials.enrol_participant", world.other_site)
    assert not world.coordinator.has_perm("trials.enrol_participant", world.site)
    assert last_event("membership.role_change").changes["site"] == ["101", "102"]


def test_change_role_and_remove_require_a_reason(world):
    m = Membership.objects.get(user=world.qc, trial=world.trial)
    with pytest.raises(ValidationError):
        services.membership_change_role(actor=world.admin, membership=m, role=Role.SPONSOR, reason="  ")
    with pytest.raises(ValidationError):
        services.membership_remove(actor=world.admin, membership=m, reason="")


def test_removal_ends_the_membership_and_all_rights(world):
    m = Membership.objects.get(user=world.qc, trial=world.trial)
    services.membership_remove(actor=world.admin, membership=m, reason="left the company")
    m.refresh_from_db()
    assert not m.is_active and m.ended_at
    qc = type(world.qc).objects.get(pk=world.qc.pk)
    assert not qc.has_perm("trials.view_trial", world.trial)
    with pytest.raises(DomainError):
        services.membership_remove(actor=world.admin, membership=m, reason="again")


def test_the_last_trial_admin_cannot_be_removed_or_demoted(world):
    m = Membership.objects.get(user=world.admin, trial=world.trial)
    with pytest.raises(DomainError):
        services.membership_remove(actor=world.admin, membership=m, reason="bye")
    with pytest.raises(DomainError):
        services.membership_change_role(actor=world.admin, membership=m, role=Role.SPONSOR, reason="bye")


@pytest.mark.parametrize("actor", ["qc", "coordinator", "sponsor", "auditor", "reader"])
def test_setup_services_refuse_non_admins(world, actor):
    with pytest.raises(PermissionDeniedError):
        services.site_create(actor=world.user(actor), trial=world.trial, number="199", name="x", country="DE")
    with pytest.raises(PermissionDeniedError):
        services.trial_update(actor=world.user(actor), trial=world.trial, title="hijacked")


def test_another_trials_admin_cannot_touch_this_trial(world):
    with pytest.raises(NotFoundError):
        services.site_create(actor=world.admin_b, trial=world.trial, number="199", name="x", country="DE")


def test_trial_create_needs_the_global_right_and_makes_the_creator_admin(world):
    from django.contrib.auth.models import Permission

    with pytest.raises(PermissionDeniedError):
        services.trial_create(actor=world.outsider, code="NEW-1", title="t", sponsor_name="s")
    world.outsider.user_permissions.add(Permission.objects.get(codename="add_trial"))
    outsider = type(world.outsider).objects.get(pk=world.outsider.pk)
    trial = services.trial_create(actor=outsider, code="NEW-1", title="t", sponsor_name="s")
    assert outsider.has_perm("trials.manage_trial", trial)
    assert trial.status == "setup"


def test_visit_transitions_follow_the_table(world):
    visit = f.visit(world.participant, "BL")
    with pytest.raises(InvalidTransition):
        services.visit_transition(actor=world.qc, visit=visit, state=VisitState.ACCEPTED)
    services.visit_transition(actor=world.coordinator, visit=visit, state=VisitState.RECEIVED, scan_date=dt.date(2026, 1, 5))
    services.visit_transition(actor=world.qc, visit=visit, state=VisitState.ACCEPTED)
    visit.refresh_from_db()
    assert visit.state == VisitState.ACCEPTED and visit.accepted_at and visit.scan_date == dt.date(2026, 1, 5)
    assert last_event("visit.state_change").changes["state"] == ["received", "accepted"]


@pytest.mark.parametrize("state,reupload,takes", [
    ("expected", False, True), ("received", False, True), ("in_qc", False, True),
    ("accepted", False, False), ("accepted", True, True), ("read", False, False), ("read", True, False),
])
def test_which_visits_take_images(world, state, reupload, takes):
    visit = Visit(participant=world.participant, state=state, reupload_requested=reupload)
    assert visit.takes_images is takes
    assert bool(visit.image_refusal()) is not takes


def test_the_reupload_flag_is_written_by_the_visit_service_with_history_and_cleared_by_new_images(world):
    visit = f.visit(world.participant, "BL")
    services.visit_reupload_request_set(actor=world.qc, visit=visit, requested=True, reason="query asks for a re-upload")
    visit.refresh_from_db()
    assert visit.reupload_requested
    assert (visit.history.first().history_user, visit.history.first().history_change_reason) == (
        world.qc, "query asks for a re-upload")
    rows = visit.history.count()
    services.visit_reupload_request_set(actor=world.qc, visit=visit, requested=True, reason="again")
    assert visit.history.count() == rows  # nothing changed, nothing saved
    services.visit_transition(actor=world.coordinator, visit=visit, state=VisitState.RECEIVED)
    visit.refresh_from_db()
    assert not visit.reupload_requested
    assert last_event("visit.state_change").changes == {"state": ["expected", "received"], "reupload_requested": [True, False]}


def test_a_refused_visit_move_changes_nothing(world):
    visit = f.visit(world.participant, "BL")
    rows, events = visit.history.count(), AuditEvent.objects.count()
    with pytest.raises(InvalidTransition, match="Cannot go from “Expected” to “Read”"):
        services.visit_transition(actor=world.qc, visit=visit, state=VisitState.READ, scan_date=dt.date(2026, 1, 5))
    visit.refresh_from_db()
    assert (visit.state, visit.scan_date) == ("expected", None)
    assert (visit.history.count(), AuditEvent.objects.count()) == (rows, events)


def test_every_service_write_leaves_history(world):
    services.site_update(actor=world.admin, site=world.site, name="History check")
    record = world.site.history.first()
    assert record.name == "History check" and record.history_user == world.admin
