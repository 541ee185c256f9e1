"""The permission matrix of the trials and audit pages: every page × every persona."""
from __future__ import annotations

import pytest

PERSONAS = ["admin", "coordinator", "other_coordinator", "qc", "reader", "adjudicator", "sponsor", "auditor",
            "admin_b", "coordinator_b", "outsider", None]


def status_of(page_client, world, persona, url):
    client = page_client(world.user(persona) if persona else None)
    return client.get(url).status_code


MATRIX = {
    # url template: {persona: status}; personas not listed expect the default of the row
    "/t/TRIAL-A/": ({"coordinator": 302, "other_coordinator": 302, "reader": 302, "adjudicator": 302, "sponsor": 302}, 200),
    "/t/TRIAL-A/participants/": ({"reader": 403, "adjudicator": 403}, 200),
    "/t/TRIAL-A/visits/": ({"reader": 403, "adjudicator": 403}, 200),
    "/t/TRIAL-A/schedule/": ({}, 200),
    "/t/TRIAL-A/settings/": ({"admin": 200}, 403),
    "/t/TRIAL-A/sites/": ({"admin": 200}, 403),
    "/t/TRIAL-A/members/": ({"admin": 200}, 403),
    "/t/TRIAL-A/audit/": ({"admin": 200, "auditor": 200}, 403),
    "/t/TRIAL-A/audit/export.csv": ({"admin": 200, "auditor": 200}, 403),
}


@pytest.mark.parametrize("url", list(MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_trial_pages(page_client, world, url, persona):
    overrides, default = MATRIX[url]
    if persona is None:
        expected = 302  # to the login page
    elif persona in ("admin_b", "coordinator_b", "outsider"):
        expected = 404  # another trial: its existence does not leak
    else:
        expected = overrides.get(persona, default)
    assert status_of(page_client, world, persona, url) == expected


@pytest.mark.parametrize("persona,status", [
    ("admin", 200), ("coordinator", 200), ("other_coordinator", 404), ("qc", 200), ("sponsor", 200),
    ("auditor", 200), ("reader", 404), ("adjudicator", 404), ("admin_b", 404), ("coordinator_b", 404),
    ("outsider", 404), (None, 302),
])
def test_participant_page(page_client, world, persona, status):
    url = f"/t/TRIAL-A/participants/{world.participant.pk}/"
    assert status_of(page_client, world, persona, url) == status


@pytest.mark.parametrize("persona,status", [("admin", 200), ("qc", 403), ("coordinator", 403), ("admin_b", 404), (None, 302)])
def test_site_and_timepoint_edit_pages(page_client, world, persona, status):
    assert status_of(page_client, world, persona, f"/t/TRIAL-A/sites/{world.site.pk}/") == status
    assert status_of(page_client, world, persona, f"/t/TRIAL-A/schedule/{world.timepoints[0].pk}/") == status


def test_another_trials_site_is_404_even_for_an_admin(page_client, world):
    assert status_of(page_client, world, "admin", f"/t/TRIAL-A/sites/{world.site_b.pk}/") == 404


def test_coordinator_list_shows_only_their_site(page_client, world):
    body = page_client(world.coordinator).get("/t/TRIAL-A/participants/").content.decode()
    assert "101-001" in body and "102-001" not in body
    grid = page_client(world.coordinator).get("/t/TRIAL-A/visits/").content.decode()
    assert "101-001" in grid and "102-001" not in grid


def test_coordinator_cannot_filter_their_way_to_another_site(page_client, world):
    assert page_client(world.coordinator).get("/t/TRIAL-A/participants/?site=102").status_code == 404


def test_qc_page_never_shows_the_arm(page_client, world):
    world.participant.arm = "SECRET-ARM"
    world.participant.save()
    for url in ("/t/TRIAL-A/participants/", f"/t/TRIAL-A/participants/{world.participant.pk}/"):
        assert "SECRET-ARM" not in page_client(world.qc).get(url).content.decode()
    assert "SECRET-ARM" in page_client(world.coordinator).get("/t/TRIAL-A/participants/").content.decode()


@pytest.mark.parametrize("persona", ["qc", "sponsor", "auditor", "reader"])
def test_read_only_roles_cannot_post_enrolments(page_client, world, persona):
    r = page_client(world.user(persona)).post("/t/TRIAL-A/participants/", {"site": world.site.pk, "subject_code": "101-555"})
    assert r.status_code == 403


def test_role_home_pages_say_what_to_do(page_client, world):
    assert "Nothing to do yet" in page_client(world.reader).get("/t/TRIAL-A/", follow=True).content.decode()
    assert "Nothing to do yet" in page_client(world.adjudicator).get("/t/TRIAL-A/", follow=True).content.decode()
    assert "QC queue" in page_client(world.qc).get("/t/TRIAL-A/").content.decode()
    assert "Visits by status per timepoint" in page_client(world.sponsor).get("/t/TRIAL-A/", follow=True).content.decode()
    assert "audit trail" in page_client(world.auditor).get("/t/TRIAL-A/").content.decode().lower()
    assert "Set-up" in page_client(world.admin).get("/t/TRIAL-A/").content.decode()
    r = page_client(world.coordinator).get("/t/TRIAL-A/")
    assert r["Location"] == "/t/TRIAL-A/participants/"


def test_reader_pages_never_name_sites_or_subjects(page_client, world):
    client = page_client(world.reader)
    for url in ("/t/TRIAL-A/", "/t/TRIAL-A/schedule/"):
        body = client.get(url, follow=True).content.decode()
        assert "101-001" not in body and world.site.name not in body
