"""The permission matrix of the trials and audit API: every endpoint × every persona.

Personas: the right role, another site of the same trial, another trial, a blinded reader,
an outsider and an anonymous client. Invisible objects answer 404, visible but forbidden 403.
"""
from __future__ import annotations

import pytest

ALL = ["admin", "coordinator", "other_coordinator", "qc", "reader", "adjudicator", "sponsor", "auditor",
       "admin_b", "coordinator_b", "outsider", None]


def client_for(api, world, persona):
    return api(world.user(persona) if persona else None)


def ids(response) -> list:
    data = response.json()
    rows = data["results"] if isinstance(data, dict) and "results" in data else data
    return rows


EXPECTED_SITES = {
    "admin": {"101", "102"}, "qc": {"101", "102"}, "sponsor": {"101", "102"}, "auditor": {"101", "102"},
    "coordinator": {"101"}, "other_coordinator": {"102"},
}


@pytest.mark.parametrize("persona", ALL)
def test_site_list_is_scoped(api, world, persona):
    r = client_for(api, world, persona).get("/api/sites/?trial=TRIAL-A")
    if persona is None:
        assert r.status_code == 401
        return
    assert r.status_code == 200
    assert {row["number"] for row in ids(r)} == EXPECTED_SITES.get(persona, set())


@pytest.mark.parametrize("persona,status", [
    ("admin", 200), ("coordinator", 200), ("other_coordinator", 404), ("qc", 200), ("reader", 404),
    ("adjudicator", 404), ("sponsor", 200), ("auditor", 200), ("admin_b", 404), ("coordinator_b", 404),
    ("outsider", 404), (None, 401),
])
def test_site_detail(api, world, persona, status):
    assert client_for(api, world, persona).get(f"/api/sites/{world.site.pk}/").status_code == status


@pytest.mark.parametrize("persona,visible", [
    ("admin", True), ("coordinator", True), ("other_coordinator", True), ("qc", True), ("reader", True),
    ("adjudicator", True), ("sponsor", True), ("auditor", True), ("admin_b", False), ("coordinator_b", False),
    ("outsider", False),
])
def test_trial_list_and_detail(api, world, persona, visible):
    client = client_for(api, world, persona)
    codes = {row["code"] for row in ids(client.get("/api/trials/"))}
    assert ("TRIAL-A" in codes) is visible
    assert client.get("/api/trials/TRIAL-A/").status_code == (200 if visible else 404)


def test_trial_api_needs_authentication(api, world):
    assert api().get("/api/trials/").status_code == 401
    assert api().get("/api/trials/TRIAL-A/").status_code == 401


def test_trial_output_never_contains_the_deidentification_secret(api, world):
    body = api(world.admin).get("/api/trials/TRIAL-A/").content.decode()
    assert world.trial.deid_secret not in body


EXPECTED_PARTICIPANTS = {
    "admin": {"101-001", "102-001"}, "qc": {"101-001", "102-001"}, "sponsor": {"101-001", "102-001"},
    "auditor": {"101-001", "102-001"}, "coordinator": {"101-001"}, "other_coordinator": {"102-001"},
    "coordinator_b": {"201-001"}, "admin_b": {"201-001"},
}


@pytest.mark.parametrize("persona", ALL)
def test_participant_list_is_scoped(api, world, persona):
    r = client_for(api, world, persona).get("/api/participants/")
    if persona is None:
        assert r.status_code == 401
        return
    assert {row["subject_code"] for row in ids(r)} == EXPECTED_PARTICIPANTS.get(persona, set())


@pytest.mark.parametrize("persona,status", [
    ("admin", 200), ("coordinator", 200), ("other_coordinator", 404), ("qc", 200), ("reader", 404),
    ("adjudicator", 404), ("sponsor", 200), ("auditor", 200), ("admin_b", 404), ("coordinator_b", 404),
    ("outsider", 404), (None, 401),
])
def test_participant_detail(api, world, persona, status):
    assert client_for(api, world, persona).get(f"/api/participants/{world.participant.pk}/").status_code == status


def test_participant_filters_by_trial_and_site(api, world):
    rows = ids(api(world.admin).get("/api/participants/?trial=TRIAL-A&site=102"))
    assert [r["subject_code"] for r in rows] == ["102-001"]


@pytest.mark.parametrize("persona", ["admin", "coordinator", "qc", "sponsor", "auditor"])
def test_arm_is_shown_only_to_unblinded_roles(api, world, persona):
    world.participant.arm = "A"
    world.participant.save()
    row = api(world.user(persona)).get(f"/api/participants/{world.participant.pk}/").json()
    assert (row["arm"] == "A") is (persona in ("admin", "coordinator"))


@pytest.mark.parametrize("persona,status", [
    ("coordinator", 201), ("other_coordinator", 404), ("admin", 403), ("qc", 403), ("sponsor", 403),
    ("auditor", 403), ("reader", 404), ("adjudicator", 404), ("admin_b", 404), ("coordinator_b", 404),
    ("outsider", 404), (None, 401),
])
def test_enrolment_at_site_101(api, world, persona, status):
    r = client_for(api, world, persona).post(
        "/api/participants/", {"trial": "TRIAL-A", "site": "101", "subject_code": "101-777"}, format="json")
    assert r.status_code == status, r.content
    from trials.models import Participant

    assert Participant.objects.filter(subject_code="101-777").exists() is (status == 201)


@pytest.mark.parametrize("persona,status", [
    ("coordinator", 200), ("other_coordinator", 404), ("qc", 403), ("admin", 403), ("reader", 404),
    ("coordinator_b", 404), ("outsider", 404), (None, 401),
])
def test_participant_update(api, world, persona, status):
    r = client_for(api, world, persona).patch(
        f"/api/participants/{world.participant.pk}/", {"consent_date": "2026-01-02"}, format="json")
    assert r.status_code == status, r.content


@pytest.mark.parametrize("persona,count", [
    ("coordinator", 3), ("other_coordinator", 0), ("qc", 3), ("admin", 3), ("sponsor", 3), ("auditor", 3),
    ("reader", 0), ("adjudicator", 0), ("admin_b", 0), ("coordinator_b", 0), ("outsider", 0),
])
def test_visit_list_is_scoped(api, world, persona, count):
    rows = ids(api(world.user(persona)).get(f"/api/visits/?participant={world.participant.pk}"))
    assert len(rows) == count
    if rows:
        assert {"status", "window_start", "window_end", "state"} <= set(rows[0])


def test_visits_need_authentication(api, world):
    assert api().get("/api/visits/").status_code == 401


SETUP_POSTS = [
    ("/api/sites/", {"trial": "TRIAL-A", "number": "150", "name": "New site", "country": "IT", "ae_title": "NEW150"}),
    ("/api/timepoints/", {"trial": "TRIAL-A", "code": "W24", "label": "Week 24", "order": 4, "nominal_day": 168,
                          "window_before": 7, "window_after": 7}),
    ("/api/memberships/", {"trial": "TRIAL-A", "email": "newqc@example.org", "role": "qc_analyst"}),
]


@pytest.mark.parametrize("url,payload", SETUP_POSTS)
@pytest.mark.parametrize("persona,status", [
    ("admin", 201), ("coordinator", 403), ("qc", 403), ("reader", 403), ("sponsor", 403), ("auditor", 403),
    ("admin_b", 404), ("outsider", 404), (None, 401),
])
def test_setup_writes_need_the_trial_admin(api, world, url, payload, persona, status):
    r = client_for(api, world, persona).post(url, payload, format="json")
    assert r.status_code == status, r.content


@pytest.mark.parametrize("persona,status", [
    ("admin", 201), ("qc", 403), ("coordinator", 403), ("reader", 403), ("admin_b", 404), ("outsider", 404), (None, 401),
])
def test_imaging_requirement_create(api, world, persona, status):
    tp = world.timepoints[0]
    r = client_for(api, world, persona).post("/api/imaging-requirements/", {
        "timepoint": tp.pk, "modality": "CT", "body_region": "Chest", "contrast": "required",
        "max_slice_thickness_mm": "5.00"}, format="json")
    assert r.status_code == status, r.content


@pytest.mark.parametrize("persona,count", [
    ("admin", 3), ("coordinator", 3), ("reader", 3), ("qc", 3), ("admin_b", 0), ("outsider", 0),
])
def test_schedule_is_visible_to_trial_members_only(api, world, persona, count):
    assert len(ids(api(world.user(persona)).get("/api/timepoints/?trial=TRIAL-A"))) == count


@pytest.mark.parametrize("persona,visible", [
    ("admin", True), ("coordinator", False), ("qc", False), ("reader", False), ("auditor", False),
    ("admin_b", False), ("outsider", False),
])
def test_memberships_are_listed_to_trial_admins(api, world, persona, visible):
    rows = ids(api(world.user(persona)).get("/api/memberships/?trial=TRIAL-A"))
    assert bool(rows) is visible


def test_change_role_needs_a_reason_and_is_audited(api, world):
    from audit.models import AuditEvent
    from trials.models import Membership

    m = Membership.objects.get(user=world.qc, trial=world.trial)
    client = api(world.admin)
    assert client.post(f"/api/memberships/{m.pk}/change-role/", {"role": "sponsor"}, format="json").status_code == 400
    r = client.post(f"/api/memberships/{m.pk}/change-role/", {"role": "sponsor", "reason": "moved team"}, format="json")
    assert r.status_code == 200 and r.json()["role"] == "sponsor"
    event = AuditEvent.objects.filter(action="membership.role_change").last()
    assert event.reason == "moved team" and event.changes["role"] == ["qc_analyst", "sponsor"]


@pytest.mark.parametrize("persona,status", [("qc", 404), ("coordinator", 404), ("admin_b", 404), (None, 401)])
def test_only_admins_change_roles(api, world, persona, status):
    from trials.models import Membership

    m = Membership.objects.get(user=world.sponsor, trial=world.trial)
    r = client_for(api, world, persona).post(f"/api/memberships/{m.pk}/change-role/",
                                             {"role": "qc_analyst", "reason": "x"}, format="json")
    assert r.status_code == status


def test_remove_member_needs_a_reason(api, world):
    from trials.models import Membership

    m = Membership.objects.get(user=world.sponsor, trial=world.trial)
    client = api(world.admin)
    assert client.post(f"/api/memberships/{m.pk}/remove/", {}, format="json").status_code == 400
    assert client.post(f"/api/memberships/{m.pk}/remove/", {"reason": "left"}, format="json").status_code == 200
    assert api(world.sponsor).get("/api/trials/TRIAL-A/").status_code == 404


@pytest.mark.parametrize("persona,visible", [
    ("admin", True), ("auditor", True), ("qc", False), ("coordinator", False), ("reader", False), ("sponsor", False),
    ("admin_b", False), ("outsider", False),
])
def test_audit_events_are_for_admins_and_auditors(api, world, persona, visible):
    rows = ids(api(world.user(persona)).get("/api/audit-events/?trial=TRIAL-A"))
    assert bool(rows) is visible
    if rows:
        assert all(row["trial"] == "TRIAL-A" for row in rows)


def test_audit_events_need_authentication(api, world):
    assert api().get("/api/audit-events/").status_code == 401


def test_audit_events_cannot_be_changed_through_the_api(api, world):
    from audit.models import AuditEvent

    seq = AuditEvent.objects.filter(trial=world.trial).first().seq
    client = api(world.admin)
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"/api/audit-events/{seq}/", {}, format="json").status_code == 405
    assert client.post("/api/audit-events/", {}, format="json").status_code == 405
