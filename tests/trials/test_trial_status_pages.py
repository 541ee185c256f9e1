"""The trial's status shows on its pages, and enrolment / upload are not offered when it takes no data (issue #17 item 13)."""
from __future__ import annotations

import html

import pytest

from imaging.models import SubmissionFile
from tests.imaging.upload_helpers import open_submission
from tests.trials import factories as f
from trials.choices import TRIAL_STATUS_CONSEQUENCES
from trials.models import Participant, Trial


def set_status(world, status: str) -> None:
    Trial.objects.filter(pk=world.trial.pk).update(status=status)


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("persona,url", [
    ("coordinator", "/t/TRIAL-A/participants/"), ("admin", "/t/TRIAL-A/"), ("qc", "/t/TRIAL-A/visits/"),
    ("reader", "/t/TRIAL-A/"),
])
def test_a_trial_in_set_up_says_so_on_its_pages(page_client, world, persona, url):
    set_status(world, "setup")
    body = text(page_client(world.user(persona)).get(url, follow=True))
    assert 'id="trial-status-banner"' in body and TRIAL_STATUS_CONSEQUENCES["setup"] in body


def test_an_active_trial_shows_no_banner(page_client, world):
    assert 'id="trial-status-banner"' not in text(page_client(world.coordinator).get("/t/TRIAL-A/participants/"))


def test_sites_can_still_enrol_in_set_up_under_the_warning(page_client, world):
    set_status(world, "setup")
    client = page_client(world.coordinator)
    assert 'id="enrol"' in text(client.get("/t/TRIAL-A/participants/"))
    r = client.post("/t/TRIAL-A/participants/", {"site": world.site.pk, "subject_code": "101-077", "status": "enrolled"})
    assert r.status_code == 302 and Participant.objects.filter(subject_code="101-077").exists()


@pytest.mark.parametrize("status", ["locked", "closed"])
def test_a_locked_or_closed_trial_offers_no_enrolment_and_refuses_a_stale_form(page_client, world, status):
    set_status(world, status)
    client = page_client(world.coordinator)
    body = text(client.get("/t/TRIAL-A/participants/"))
    assert 'id="enrol"' not in body and f"TRIAL-A is {status}: no new participants can be enrolled." in body
    assert TRIAL_STATUS_CONSEQUENCES[status] in body
    r = client.post("/t/TRIAL-A/participants/", {"site": world.site.pk, "subject_code": "101-078", "status": "enrolled"},
                    follow=True)
    assert r.status_code == 200 and f"TRIAL-A is {status}: no new participants can be enrolled." in text(r)
    assert not Participant.objects.filter(subject_code="101-078").exists()


def test_roles_that_do_not_enrol_get_no_refusal_text(page_client, world):
    set_status(world, "locked")
    body = text(page_client(world.qc).get("/t/TRIAL-A/participants/"))
    assert 'id="enrol-refused"' not in body and 'id="enrol"' not in body
    assert page_client(world.qc).post("/t/TRIAL-A/participants/", {"subject_code": "101-079"}).status_code == 403


@pytest.mark.parametrize("status", ["locked", "closed"])
def test_a_submission_opened_before_the_lock_takes_no_more_files(page_client, api, world, status):
    client = api(world.coordinator)
    sub = open_submission(client, f.visit(world.participant, "BL").pk)
    set_status(world, status)
    body = text(page_client(world.coordinator).get(f"/t/TRIAL-A/submissions/{sub['id']}/"))
    assert 'id="dropzone"' not in body and f"TRIAL-A is {status}: no images can be submitted." in body
    assert 'data-can-upload="0"' in body
    r = client.post(f"/api/submissions/{sub['id']}/uploads/", {"client_key": "k1", "name": "a.dcm", "size": 10}, format="json")
    assert r.status_code == 409 and r.json()["detail"] == f"TRIAL-A is {status}: no images can be submitted."
    assert not SubmissionFile.objects.exists()


def test_an_open_submission_of_an_active_trial_offers_the_upload(page_client, api, world):
    sub = open_submission(api(world.coordinator), f.visit(world.participant, "BL").pk)
    body = text(page_client(world.coordinator).get(f"/t/TRIAL-A/submissions/{sub['id']}/"))
    assert 'id="dropzone"' in body and 'id="upload-refused"' not in body
