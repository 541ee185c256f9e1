"""Field-level blinding in the audit trail: the treatment arm is hidden from viewers who may not see
it (the auditor) in the page, the API and the CSV export, and shown to those who may (the admin)."""
from __future__ import annotations

import pytest

from trials import services

ARM = "ARM-B-NIVOLUMAB"


@pytest.fixture
def armed(world):
    services.participant_update(actor=world.coordinator, participant=world.participant, arm=ARM)
    services.participant_enrol(actor=world.coordinator, site=world.site, subject_code="101-002", arm="ARM-A-PLACEBO")
    return world


def _api_text(api, user) -> str:
    response = api(user).get("/api/audit-events/", {"action": "participant."})
    assert response.status_code == 200
    return response.content.decode()


def test_the_auditor_sees_no_arm_in_the_api(armed, api):
    text = _api_text(api, armed.auditor)
    assert ARM not in text and "ARM-A-PLACEBO" not in text
    assert "(blinded)" in text


def test_the_auditor_sees_who_changed_the_arm_and_when_but_not_to_what(armed, api):
    rows = api(armed.auditor).get("/api/audit-events/", {"action": "participant.update"}).json()["results"]
    (row,) = rows
    assert row["user"] == "coord_101" and row["object"] == "101-001"
    assert row["changes"]["arm"] == ["", "(blinded)"]  # no arm before: nothing to hide there


def test_the_admin_who_may_see_arms_sees_them(armed, api):
    text = _api_text(api, armed.admin)
    assert ARM in text and "ARM-A-PLACEBO" in text and "(blinded)" not in text


def test_the_page_blinds_the_arm_for_the_auditor_only(armed, page_client):
    auditor = page_client(armed.auditor).get("/t/TRIAL-A/audit/").content.decode()
    assert ARM not in auditor and "ARM-A-PLACEBO" not in auditor and "(blinded)" in auditor
    admin = page_client(armed.admin).get("/t/TRIAL-A/audit/").content.decode()
    assert ARM in admin and "(blinded)" not in admin


def test_the_export_blinds_the_arm_for_the_auditor_only(armed, page_client):
    response = page_client(armed.auditor).get("/t/TRIAL-A/audit/export.csv")
    assert response.status_code == 200
    auditor = b"".join(response.streaming_content).decode()
    assert ARM not in auditor and "ARM-A-PLACEBO" not in auditor and "(blinded)" in auditor
    admin = b"".join(page_client(armed.admin).get("/t/TRIAL-A/audit/export.csv").streaming_content).decode()
    assert ARM in admin


def test_the_stored_event_and_its_hash_keep_the_arm(armed, api):
    from audit.chain import verify_chain
    from audit.models import AuditEvent

    api(armed.auditor).get("/api/audit-events/")
    event = AuditEvent.objects.filter(action="participant.update").get()
    assert event.changes["arm"][1] == ARM
    assert verify_chain().ok
