"""The demo trial: complete, idempotent, every role present, every visit status on the grid.

Seeding uploads real synthetic studies through the pipeline (about 15 s), so one test checks
the whole demo and only the refusal test seeds again, without images.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from audit.chain import verify_chain
from imaging.models import Instance, Query
from trials.choices import Role, VisitStatus
from trials.models import Membership, Participant, Site, Trial, Visit

QUIET = {"stdout": open("/dev/null", "w")}  # noqa: SIM115


def counts() -> tuple[int, ...]:
    return (Participant.objects.count(), Visit.objects.count(), Membership.objects.count(), Site.objects.count(),
            Instance.objects.count(), Query.objects.count())


def test_the_demo_trial_is_complete_and_seeding_again_changes_nothing(db, settings):
    settings.DEV_MODE = True
    call_command("seed_demo", **QUIET)
    demo = Trial.objects.get(code="DEMO-ONC-301")

    sites = Site.objects.filter(trial=demo)
    assert sorted(s.number for s in sites) == ["101", "102", "103"] and len({s.country for s in sites}) == 3
    assert list(demo.timepoints.order_by("order").values_list("code", flat=True)) == ["SCR", "W8", "W16", "W24", "EOT"]
    scr = demo.timepoints.get(code="SCR")
    assert (scr.nominal_day, scr.window_before, scr.window_after, scr.is_baseline) == (0, 28, 0, True)
    req = scr.imaging_requirements.get()
    assert (req.modality, req.contrast, req.max_slice_thickness_mm) == ("CT", "required", 5)

    expected = {"admin": Role.TRIAL_ADMIN, "coordinator1": Role.SITE_COORDINATOR, "coordinator2": Role.SITE_COORDINATOR,
                "qc": Role.QC_ANALYST, "reader1": Role.READER, "reader2": Role.READER, "adjudicator": Role.ADJUDICATOR,
                "sponsor": Role.SPONSOR, "auditor": Role.AUDITOR}
    for username, role in expected.items():
        assert Membership.objects.get(user__username=username, trial=demo, is_active=True).role == role
        assert authenticate(RequestFactory().post("/"), username=username, password="ictms-demo") is not None
    assert Membership.objects.get(user__username="coordinator1", trial=demo).site.number == "101"
    assert Membership.objects.get(user__username="coordinator2", trial=demo).site.number == "102"

    today = dt.date.today()
    statuses = {v.status(today) for v in Visit.objects.filter(participant__trial=demo).select_related("participant", "timepoint")}
    for status in (VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE, VisitStatus.RECEIVED, VisitStatus.IN_QC,
                   VisitStatus.ACCEPTED, VisitStatus.NOT_SCHEDULED):
        assert status in statuses
    assert 10 <= Participant.objects.filter(trial=demo).count() <= 15
    # Real de-identified images behind the received visits, and the thick-slice query.
    assert Instance.objects.count() > 100
    assert Query.objects.filter(is_automatic=True, state="open", visit__participant__subject_code="102-003").exists()
    assert verify_chain().ok

    before = counts()
    call_command("seed_demo", **QUIET)
    assert counts() == before


def test_refuses_without_debug_unless_forced(db, settings):
    settings.DEV_MODE = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", **QUIET)
    assert not Trial.objects.exists()
    call_command("seed_demo", "--force", "--skip-images", **QUIET)
    assert Trial.objects.filter(code="DEMO-ONC-301").exists()
