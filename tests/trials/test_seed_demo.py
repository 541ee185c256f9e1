"""The demo trial: complete, idempotent, every role present, every visit status on the grid."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.chain import verify_chain
from trials.choices import Role, VisitStatus
from trials.models import Membership, Participant, Site, Trial, Visit


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    return Trial.objects.get(code="DEMO-ONC-301")


def test_demo_has_sites_schedule_and_requirement(demo):
    sites = Site.objects.filter(trial=demo)
    assert sorted(s.number for s in sites) == ["101", "102", "103"]
    assert len({s.country for s in sites}) == 3
    assert list(demo.timepoints.order_by("order").values_list("code", flat=True)) == ["SCR", "W8", "W16", "W24", "EOT"]
    scr = demo.timepoints.get(code="SCR")
    assert (scr.nominal_day, scr.window_before, scr.window_after, scr.is_baseline) == (0, 28, 0, True)
    req = scr.imaging_requirements.get()
    assert (req.modality, req.contrast, req.max_slice_thickness_mm) == ("CT", "required", 5)


def test_every_role_has_a_demo_user_with_the_published_password(demo):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    expected = {"admin": Role.TRIAL_ADMIN, "coordinator1": Role.SITE_COORDINATOR, "coordinator2": Role.SITE_COORDINATOR,
                "qc": Role.QC_ANALYST, "reader1": Role.READER, "reader2": Role.READER, "adjudicator": Role.ADJUDICATOR,
                "sponsor": Role.SPONSOR, "auditor": Role.AUDITOR}
    for username, role in expected.items():
        m = Membership.objects.get(user__username=username, trial=demo, is_active=True)
        assert m.role == role
        assert authenticate(RequestFactory().post("/"), username=username, password="ictms-demo") is not None
    assert Membership.objects.get(user__username="coordinator1", trial=demo).site.number == "101"
    assert Membership.objects.get(user__username="coordinator2", trial=demo).site.number == "102"


def test_the_grid_shows_every_status(demo):
    today = dt.date.today()
    statuses = {v.status(today) for v in Visit.objects.filter(participant__trial=demo).select_related("participant", "timepoint")}
    for status in (VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE, VisitStatus.RECEIVED, VisitStatus.IN_QC,
                   VisitStatus.ACCEPTED, VisitStatus.NOT_SCHEDULED):
        assert status in statuses
    assert 10 <= Participant.objects.filter(trial=demo).count() <= 15


def test_seeding_twice_changes_nothing(demo):
    counts = (Participant.objects.count(), Visit.objects.count(), Membership.objects.count(), Site.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert counts == (Participant.objects.count(), Visit.objects.count(), Membership.objects.count(), Site.objects.count())


def test_the_demo_is_built_through_audited_services(demo):
    report = verify_chain()
    assert report.ok and report.checked > 50


def test_refuses_without_debug_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=open("/dev/null", "w"))
    call_command("seed_demo", "--force", stdout=open("/dev/null", "w"))
    assert Trial.objects.filter(code="DEMO-ONC-301").exists()
