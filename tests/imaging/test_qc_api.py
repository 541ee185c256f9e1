"""The QC API: series with their QC state and findings, series decisions, the visit queue and acceptance."""
from __future__ import annotations

import pytest

from audit.models import AuditEvent
from imaging.models import Series
from imaging.qc.services import series_qc_decide
from imaging.queries.services import query_answer, query_resolve
from tests.imaging.qc_helpers import cap_requirement, qc_series
from tests.imaging.qc_page_helpers import (
    finding,
    qc_visit,
    quick_series,
    received,
)
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f
from trials.models import Visit

pytestmark = pytest.mark.django_db


# --- /api/series/ ----------------------------------------------------------------------------------


def test_series_carry_their_qc_decision_and_current_findings(world, api):
    visit = qc_visit(world.participant, "BL")
    first, second = Series.objects.filter(study__visit=visit).order_by("series_number")
    finding(visit, first, code="missing_slices", current=False)
    series_qc_decide(actor=world.qc, series=first, status="failed", reason="protocol_deviation", comment="7 mm slices.")
    rows = api(world.coordinator).get(f"/api/series/?visit={visit.pk}").json()["results"]
    assert [r["id"] for r in rows] == [first.pk, second.pk]
    one = rows[0]
    assert (one["qc_status"], one["qc_reason"], one["qc_comment"], one["qc_by"]) == (
        "failed", "protocol_deviation", "7 mm slices.", "qc_a")
    assert [x["code"] for x in one["findings"]] == ["slice_thickness_exceeded"]  # not the replaced one
    assert one["findings"][0]["severity"] == "blocking" and one["findings"][0]["details"]["expected_max_mm"] == 5.0
    assert rows[1]["qc_status"] == "pending" and [x["code"] for x in rows[1]["findings"]] == ["contrast_uncertain"]
    single = api(world.qc).get(f"/api/series/{first.pk}/").json()
    assert single["qc_status"] == "failed" and len(single["findings"]) == 1


def test_series_from_a_real_upload_carry_the_automated_findings(world, api):
    cap_requirement(world.timepoints[0])
    visit = f.visit(world.participant, "BL")
    client = api(world.coordinator)
    upload_all(client, visit.pk, qc_series(thickness=7.0, description="CHEST 7mm", series_number=3))
    (row,) = client.get(f"/api/series/?visit={visit.pk}").json()["results"]
    codes = {x["code"]: x for x in row["findings"]}
    assert "slice_thickness_exceeded" in codes and row["qc_status"] == "pending"
    assert codes["slice_thickness_exceeded"]["message"].startswith("Series 3 'CHEST 7mm': slice thickness 7.0 mm")


def test_finding_details_never_carry_the_shifted_image_dates(world, api):
    visit = qc_visit(world.participant, "BL")
    series = Series.objects.filter(study__visit=visit).first()
    finding(visit, series, code="scan_date_outside_window", details={
        "scan_date": "2011-03-04", "window_start": "2011-01-01", "window_end": "2011-02-01", "days_outside": 31})
    finding(visit, series, code="multiple_studies", details={"studies": [
        {"study_uid": "2.25.1", "series_numbers": [3], "scan_date": "2011-03-05"}]})
    body = api(world.qc).get(f"/api/series/?visit={visit.pk}").content.decode()
    assert "2011-0" not in body and '"days_outside":31' in body and '"study_uid":"2.25.1"' in body
    body = api(world.qc).get(f"/api/qc/visits/{visit.pk}/findings/?history=1").content.decode()
    assert "2011-0" not in body and '"series_numbers":[3]' in body


# --- POST /api/series/{id}/qc/ ------------------------------------------------------------------------


@pytest.mark.parametrize("role,status", [
    ("qc", 200), ("admin", 403), ("sponsor", 403), ("auditor", 403), ("coordinator", 403), ("other_coordinator", 404),
    ("reader", 404), ("adjudicator", 404), ("admin_b", 404), ("coordinator_b", 404), ("outsider", 404), ("anonymous", 401),
])
def test_only_qc_analysts_decide_a_series(world, api, role, status):
    visit = received(f.visit(world.participant, "BL"))
    series = quick_series(visit, 1)
    client = api(None if role == "anonymous" else world.user(role))
    r = client.post(f"/api/series/{series.pk}/qc/", {"status": "passed", "reason": "meets_protocol"}, format="json")
    assert r.status_code == status, r.content
    series.refresh_from_db()
    if status == 200:
        assert series.qc_status == "passed" and r.json()["qc_status"] == "passed" and r.json()["qc_by"] == "qc_a"
        event = AuditEvent.objects.get(action="series.qc_decide")
        assert event.actor == world.qc and event.changes["qc_status"] == ["pending", "passed"]
        assert Visit.objects.get(pk=visit.pk).state == "in_qc"
    else:
        assert series.qc_status == "pending" and not AuditEvent.objects.filter(action="series.qc_decide").exists()


@pytest.mark.parametrize("body,field", [
    ({"status": "pending", "reason": "meets_protocol"}, "status"),
    ({"status": "passed", "reason": "because"}, "reason"),
    ({"status": "failed", "reason": "image_quality", "comment": "  "}, "comment"),
])
def test_a_decision_needs_a_status_a_reason_and_for_a_failure_a_comment(world, api, body, field):
    series = quick_series(received(f.visit(world.participant, "BL")), 1)
    r = api(world.qc).post(f"/api/series/{series.pk}/qc/", body, format="json")
    assert r.status_code == 400 and field in r.json()


def test_the_series_of_an_accepted_visit_cannot_be_redecided(world, api):
    series = quick_series(received(f.visit(world.participant, "BL"), state="accepted"), 1)
    r = api(world.qc).post(f"/api/series/{series.pk}/qc/", {"status": "failed", "reason": "other", "comment": "late"},
                           format="json")
    assert r.status_code == 409 and "already accepted" in r.json()["detail"]


# --- /api/qc/visits/ -------------------------------------------------------------------------------


def test_the_queue_lists_visits_awaiting_qc_oldest_first(world, api):
    newer = qc_visit(world.participant, "BL", days_ago=1)
    older = qc_visit(world.other_participant, "BL", days_ago=6, modality="MR")
    received(f.visit(world.participant, "W8"), state="accepted")
    rows = api(world.qc).get("/api/qc/visits/").json()["results"]
    assert [r["id"] for r in rows] == [older.pk, newer.pk]
    assert rows[0] | {"received_at": None} == {
        "id": older.pk, "trial": "TRIAL-A", "site": "102", "participant": world.other_participant.pk,
        "subject_code": "102-001", "timepoint": "BL", "timepoint_label": "Baseline", "state": "received",
        "scan_date": None, "received_at": None, "waiting_days": 6, "series_count": 2, "open_queries": 1,
        "blocking": 1, "modalities": ["MR"]}


def test_the_queue_filters_by_trial_site_and_modality(world, api):
    ct = qc_visit(world.participant, "BL")
    mr = qc_visit(world.other_participant, "BL", modality="MR")
    client = api(world.qc)

    def ids(params: str) -> list[int]:
        return [r["id"] for r in client.get(f"/api/qc/visits/?{params}").json()["results"]]

    assert ids("site=101") == [ct.pk] and ids("modality=MR") == [mr.pk]
    assert ids("trial=TRIAL-B") == [] and sorted(ids("trial=TRIAL-A")) == sorted([ct.pk, mr.pk])


@pytest.mark.parametrize("persona", ["admin", "coordinator", "sponsor", "reader", "admin_b", "outsider"])
def test_the_queue_is_empty_for_everyone_but_qc_analysts(world, api, persona):
    qc_visit(world.participant, "BL")
    r = api(world.user(persona)).get("/api/qc/visits/")
    assert r.status_code == 200 and r.json()["count"] == 0


def test_the_queue_needs_authentication(world, api):
    assert api(None).get("/api/qc/visits/").status_code == 401


def test_a_visits_qc_summary_says_what_prevents_acceptance(world, api):
    visit = qc_visit(world.participant, "BL")
    body = api(world.qc).get(f"/api/qc/visits/{visit.pk}/").json()
    assert body["can_accept"] is False
    assert any("need a pass or fail decision" in p for p in body["acceptance_problems"])
    assert [s["qc_status"] for s in body["series"]] == ["pending", "pending"]
    assert {x["code"] for x in body["findings"]} == {"slice_thickness_exceeded", "contrast_uncertain"}
    assert [q["state"] for q in body["queries"]] == ["open"]
    # The site sees the summary of its own visit; other sites and other trials do not.
    assert api(world.coordinator).get(f"/api/qc/visits/{visit.pk}/").json()["can_accept"] is False
    assert api(world.other_coordinator).get(f"/api/qc/visits/{visit.pk}/").status_code == 404
    assert api(world.admin_b).get(f"/api/qc/visits/{visit.pk}/").status_code == 404
    assert api(world.reader).get(f"/api/qc/visits/{visit.pk}/").status_code == 404


def test_findings_history_includes_earlier_runs(world, api):
    visit = qc_visit(world.participant, "BL")
    finding(visit, None, code="missing_slices", current=False)
    client = api(world.qc)
    current = {x["code"] for x in client.get(f"/api/qc/visits/{visit.pk}/findings/").json()}
    history = {x["code"] for x in client.get(f"/api/qc/visits/{visit.pk}/findings/?history=1").json()}
    assert "missing_slices" not in current and "missing_slices" in history and current < history


def test_accepting_a_visit_is_refused_with_the_reasons_until_it_is_complete(world, api):
    visit = qc_visit(world.participant, "BL")
    client = api(world.qc)
    r = client.post(f"/api/qc/visits/{visit.pk}/accept/", {"comment": ""}, format="json")
    assert r.status_code == 409 and "need a pass or fail decision" in r.json()["detail"]
    first, second = Series.objects.filter(study__visit=visit).order_by("series_number")
    series_qc_decide(actor=world.qc, series=first, status="failed", reason="protocol_deviation", comment="7 mm")
    series_qc_decide(actor=world.qc, series=second, status="passed", reason="meets_protocol")
    r = client.post(f"/api/qc/visits/{visit.pk}/accept/", {}, format="json")
    assert r.status_code == 409 and "open or awaiting your review" in r.json()["detail"]
    from imaging.models import Query

    query = Query.objects.get(visit=visit)
    query_answer(actor=world.coordinator, query=query, message="Cannot redo; the patient left.")
    query_resolve(actor=world.qc, query=query, message="Accepted as a deviation.")
    assert api(world.coordinator).post(f"/api/qc/visits/{visit.pk}/accept/", {}, format="json").status_code == 403
    assert api(world.admin).post(f"/api/qc/visits/{visit.pk}/accept/", {}, format="json").status_code == 403
    assert api(world.other_coordinator).post(f"/api/qc/visits/{visit.pk}/accept/", {}, format="json").status_code == 404
    assert api(None).post(f"/api/qc/visits/{visit.pk}/accept/", {}, format="json").status_code == 401
    r = client.post(f"/api/qc/visits/{visit.pk}/accept/", {"comment": "Complete."}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "accepted" and r.json()["accepted_at"]
    event = AuditEvent.objects.filter(action="visit.state_change", target_id=str(visit.pk)).last()
    assert event.actor == world.qc and event.reason == "Complete." and event.changes["state"][1] == "accepted"
    assert client.post(f"/api/qc/visits/{visit.pk}/accept/", {}, format="json").status_code == 409
    assert visit.pk not in [x["id"] for x in client.get("/api/qc/visits/").json()["results"]]


def test_the_schema_documents_the_qc_endpoints(world, api):
    r = api(world.qc).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"] if r["Content-Type"].startswith("application/json") else r.content.decode()
    for path in ("/api/qc/visits/", "/api/qc/visits/{id}/accept/", "/api/series/{id}/qc/"):
        assert path in paths
