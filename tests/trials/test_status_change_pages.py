"""Status changes of a trial and of a participant (issue #17 item 2): no pre-selected target, a reason, a confirmation."""
from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from audit.models import AuditEvent
from trials.choices import PARTICIPANT_STATUS_CONSEQUENCES, TRIAL_STATUS_CONSEQUENCES
from trials.models import Participant, Trial

SETTINGS = "/t/TRIAL-A/settings/"


def trial_status(world) -> str:
    return Trial.objects.get(pk=world.trial.pk).status


def test_the_trial_status_form_preselects_no_target_and_says_what_each_does(page_client, world):
    body = page_client(world.admin).get(SETTINGS).content.decode()
    select = re.search(r'<select name="st-status".*?</select>', body, re.DOTALL).group(0)
    assert re.search(r'<option value="" selected>', select)
    assert 'value="locked" selected' not in select
    assert escape(TRIAL_STATUS_CONSEQUENCES["locked"]) in body


def test_two_clicks_with_no_choice_or_reason_change_nothing(page_client, world):
    client = page_client(world.admin)
    r = client.post(SETTINGS, {"st-status": "", "st-reason": ""})
    assert r.status_code == 200 and trial_status(world) == "active"
    r = client.post(SETTINGS, {"st-status": "locked", "st-reason": "  "})
    assert r.status_code == 200 and "This field is required" in r.content.decode()
    assert trial_status(world) == "active"


def test_locking_a_trial_needs_a_confirmation_that_names_the_consequence(page_client, world):
    client = page_client(world.admin)
    r = client.post(SETTINGS, {"st-status": "locked", "st-reason": "database lock for the interim analysis"})
    body = r.content.decode()
    assert r.status_code == 200 and 'id="status-confirm"' in body
    assert escape(TRIAL_STATUS_CONSEQUENCES["locked"]) in body and "I understand: change to Locked" in body
    assert trial_status(world) == "active"  # not yet
    r = client.post(SETTINGS, {"st-status": "locked", "st-reason": "database lock for the interim analysis",
                               "st-confirmed": "on"})
    assert r.status_code == 302 and trial_status(world) == "locked"
    event = AuditEvent.objects.filter(action="trial.status_change").latest("id")
    assert event.reason == "database lock for the interim analysis"


def test_only_the_trial_admin_changes_the_trial_status(page_client, world):
    data = {"st-status": "locked", "st-reason": "x", "st-confirmed": "on"}
    assert page_client(world.coordinator).post(SETTINGS, data).status_code == 403
    assert page_client(world.admin_b).post(SETTINGS, data).status_code == 404
    assert page_client(world.coordinator).post(SETTINGS, {"st-status": "locked", "st-reason": "x"}).status_code == 403
    assert trial_status(world) == "active"


def participant_url(world) -> str:
    return f"/t/TRIAL-A/participants/{world.participant.pk}/"


def test_a_participant_status_change_needs_a_reason_and_a_confirmation(page_client, world):
    client = page_client(world.coordinator)
    body = client.get(participant_url(world)).content.decode()
    select = re.search(r'<select name="s-status".*?</select>', body, re.DOTALL).group(0)
    assert re.search(r'<option value="" selected>', select)
    r = client.post(participant_url(world), {"s-status": "completed", "s-reason": ""})
    assert r.status_code == 200 and 'id="status-confirm"' not in r.content.decode()
    r = client.post(participant_url(world), {"s-status": "completed", "s-reason": "last visit done"})
    assert escape(PARTICIPANT_STATUS_CONSEQUENCES["completed"]) in r.content.decode()
    assert Participant.objects.get(pk=world.participant.pk).status == "enrolled"
    r = client.post(participant_url(world), {"s-status": "completed", "s-reason": "last visit done", "s-confirmed": "on"})
    assert r.status_code == 302 and Participant.objects.get(pk=world.participant.pk).status == "completed"


@pytest.mark.parametrize("persona,status", [("qc", 403), ("other_coordinator", 404), ("coordinator_b", 404)])
def test_others_cannot_change_a_participant_status(page_client, world, persona, status):
    data = {"s-status": "completed", "s-reason": "x", "s-confirmed": "on"}
    assert page_client(world.user(persona)).post(participant_url(world), data).status_code == status
    assert Participant.objects.get(pk=world.participant.pk).status == "enrolled"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_the_api_refuses_a_status_change_without_a_reason(api, world, reason):
    body = {"status": "locked"} if reason is None else {"status": "locked", "reason": reason}
    r = api(world.admin).post("/api/trials/TRIAL-A/status/", body, format="json")
    assert r.status_code == 400 and "reason" in r.json()
    body = {"status": "completed"} if reason is None else {"status": "completed", "reason": reason}
    r = api(world.coordinator).post(f"/api/participants/{world.participant.pk}/change-status/", body, format="json")
    assert r.status_code == 400 and "reason" in r.json()
    assert trial_status(world) == "active" and Participant.objects.get(pk=world.participant.pk).status == "enrolled"
