"""The queries API: every transition by every role, the audit trail of each, scoping and e-mails.

Who may act: QC analysts raise, resolve, reopen and cancel; the coordinators of the visit's
site answer. A role that sees the query but may not act gets 403; someone who may not see it
404 (existence does not leak); anonymous 401. A transition the state machine forbids is 409,
and then neither the query, its thread nor the audit trail changes.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from imaging.models import Query, QueryMessage
from imaging.queries.services import (
    query_answer,
    query_cancel,
    query_raise,
    query_resolve,
)
from tests.imaging.qc_page_helpers import quick_series, received
from tests.trials import factories as f

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "outsider", "reader", "adjudicator", "admin_b", "coordinator_b", "other_coordinator", "admin",
         "sponsor", "auditor", "coordinator", "qc"]
# Who cannot see a query of site 101 in trial A at all.
BLIND = {"outsider", "reader", "adjudicator", "admin_b", "coordinator_b", "other_coordinator"}
ACTOR = {"answer": "coordinator", "resolve": "qc", "reopen": "qc", "cancel": "qc"}
ALLOWED = {("open", "answer"): "answered", ("open", "cancel"): "cancelled", ("answered", "resolve"): "resolved",
           ("answered", "reopen"): "open"}


def expected_status(role: str, state: str, action: str) -> int:
    if role == "anonymous":
        return 401
    if role in BLIND:
        return 404
    if role != ACTOR[action]:
        return 403
    return 200 if (state, action) in ALLOWED else 409


@pytest.fixture
def visit(world):
    return received(f.visit(world.participant, "BL"))


def query_in(world, visit, state: str) -> Query:
    query = query_raise(actor=world.qc, visit=visit, subject="Slice thickness", message="Please re-send 2.5 mm slices.")
    if state in ("answered", "resolved"):
        query = query_answer(actor=world.coordinator, query=query, message="Sent again.")
    if state == "resolved":
        query = query_resolve(actor=world.qc, query=query, message="Received, thanks.")
    if state == "cancelled":
        query = query_cancel(actor=world.qc, query=query, message="Raised on the wrong visit.")
    return Query.objects.get(pk=query.pk)


@pytest.mark.parametrize("state", ["open", "answered", "resolved", "cancelled"])
@pytest.mark.parametrize("action", ["answer", "resolve", "reopen", "cancel"])
def test_every_transition_by_every_role(world, api, visit, state, action):
    query = query_in(world, visit, state)
    url = f"/api/queries/{query.pk}/{action}/"
    # The one role that may act comes last, so the state is unchanged until then.
    for role in [r for r in ROLES if r != ACTOR[action]] + [ACTOR[action]]:
        before_messages = QueryMessage.objects.filter(query=query).count()
        before_events = AuditEvent.objects.count()
        client = api(None if role == "anonymous" else world.user(role))
        text = f"{role} does {action}"
        response = client.post(url, {"message": text}, format="json")
        wanted = expected_status(role, state, action)
        assert response.status_code == wanted, (role, state, action, response.content)
        query.refresh_from_db()
        if wanted == 200:
            assert query.state == ALLOWED[(state, action)] == response.json()["state"]
            message = QueryMessage.objects.filter(query=query).order_by("id").last()
            assert (message.author, message.action, message.text) == (world.user(role), action, text)
            event = AuditEvent.objects.filter(action=f"query.{action}", target_id=str(query.pk)).order_by("seq").last()
            assert event.actor == world.user(role) and event.reason == text
            assert event.changes == {"state": [state, ALLOWED[(state, action)]]}
            assert response.json()["messages"][-1]["text"] == text
        else:
            assert query.state == state
            assert QueryMessage.objects.filter(query=query).count() == before_messages
            assert not AuditEvent.objects.filter(seq__gt=before_events, action__startswith="query.").exists()
        if wanted == 409:
            assert "Cannot go from" in response.json()["detail"]


@pytest.mark.parametrize("role,status", [
    ("qc", 201), ("admin", 403), ("sponsor", 403), ("auditor", 403), ("coordinator", 403), ("other_coordinator", 404),
    ("reader", 404), ("adjudicator", 404), ("admin_b", 404), ("coordinator_b", 404), ("outsider", 404), ("anonymous", 401),
])
def test_only_qc_analysts_raise_queries(world, api, visit, role, status):
    client = api(None if role == "anonymous" else world.user(role))
    response = client.post("/api/queries/", {"visit": visit.pk, "category": "scan_date", "subject": "Scan date?",
                                             "message": "The images are dated outside the window."}, format="json")
    assert response.status_code == status, response.content
    if status == 201:
        query = Query.objects.get()
        assert (query.state, query.raised_by, query.category, query.is_automatic) == ("open", world.qc, "scan_date", False)
        event = AuditEvent.objects.get(action="query.raise")
        assert event.actor == world.qc and event.reason == "The images are dated outside the window."
        assert response.json()["messages"][0]["action"] == "raise"
    else:
        assert not Query.objects.exists()


def test_a_query_without_a_due_date_is_due_after_the_trials_query_due_days(world, api, visit):
    """Bug B1: the API used a fixed 7 days; the page and automated QC used the trial's setting."""
    world.trial.query_due_days = 12
    world.trial.save()
    response = api(world.qc).post("/api/queries/", {"visit": visit.pk, "message": "Scan date?"}, format="json")
    assert response.status_code == 201, response.content
    due = timezone.localdate() + dt.timedelta(days=12)
    assert response.json()["due_date"] == due.isoformat() and Query.objects.get().due_date == due


def test_an_automatic_query_is_due_after_the_trials_query_due_days_too(world, visit):
    world.trial.query_due_days = 3
    world.trial.save()
    query = query_raise(actor=None, visit=visit, subject="Thick slices", message="Re-send thin slices.",
                        is_automatic=True, cause_key="slice_thickness_exceeded:1::")
    assert query.due_date == timezone.localdate() + dt.timedelta(days=3)


def test_a_due_date_given_by_qc_is_kept(world, api, visit):
    world.trial.query_due_days = 12
    world.trial.save()
    response = api(world.qc).post("/api/queries/", {"visit": visit.pk, "message": "Scan date?",
                                                    "due_date": "2031-05-06"}, format="json")
    assert response.status_code == 201 and response.json()["due_date"] == "2031-05-06"


def test_a_query_names_a_series_of_its_own_visit_only(world, api, visit):
    other = quick_series(received(f.visit(world.participant, "W8")), 1)
    mine = quick_series(visit, 1)
    client = api(world.qc)
    r = client.post("/api/queries/", {"visit": visit.pk, "series": other.pk, "message": "?"}, format="json")
    assert r.status_code == 404
    r = client.post("/api/queries/", {"visit": visit.pk, "series": mine.pk, "message": "Motion?"}, format="json")
    assert r.status_code == 201 and r.json()["series"] == mine.pk


def test_raising_needs_a_message(world, api, visit):
    r = api(world.qc).post("/api/queries/", {"visit": visit.pk, "message": "  "}, format="json")
    assert r.status_code == 400


def test_an_answer_needs_a_message_or_a_reupload(world, api, visit):
    query = query_in(world, visit, "open")
    r = api(world.coordinator).post(f"/api/queries/{query.pk}/answer/", {"message": ""}, format="json")
    assert r.status_code == 400 and "message" in r.json()


def test_the_site_answers_with_a_reupload_of_the_same_visit(world, api, visit):
    from imaging.models import Submission

    query = query_in(world, visit, "open")
    same = Submission.objects.create(visit=visit, opened_by=world.coordinator, state="done")
    other_visit = Submission.objects.create(visit=f.visit(world.participant, "W8"), opened_by=world.coordinator, state="done")
    other_site = Submission.objects.create(visit=f.visit(world.other_participant, "BL"), opened_by=world.other_coordinator,
                                           state="done")
    client = api(world.coordinator)
    assert client.post(f"/api/queries/{query.pk}/answer/", {"submission": other_site.pk}, format="json").status_code == 404
    assert client.post(f"/api/queries/{query.pk}/answer/", {"submission": other_visit.pk}, format="json").status_code == 400
    r = client.post(f"/api/queries/{query.pk}/answer/", {"submission": same.pk}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "answered"
    assert r.json()["messages"][-1]["submission"] == same.pk
    assert AuditEvent.objects.filter(action="query.answer").last().data == {"submission": same.pk}


def test_a_reopened_query_can_be_answered_again_and_its_thread_keeps_every_step(world, api, visit):
    query = query_in(world, visit, "answered")
    qc, site = api(world.qc), api(world.coordinator)
    assert qc.post(f"/api/queries/{query.pk}/reopen/", {"message": "Still 7 mm."}, format="json").status_code == 200
    assert site.post(f"/api/queries/{query.pk}/answer/", {"message": "Now 2 mm."}, format="json").status_code == 200
    assert qc.post(f"/api/queries/{query.pk}/resolve/", {"message": "OK."}, format="json").status_code == 200
    thread = site.get(f"/api/queries/{query.pk}/").json()["messages"]
    assert [(m["action"], m["author"]) for m in thread] == [
        ("raise", "Test Qc_A"), ("answer", "Test Coord_101"), ("reopen", "Test Qc_A"), ("answer", "Test Coord_101"),
        ("resolve", "Test Qc_A")]


@pytest.mark.parametrize("action", ["resolve", "reopen", "cancel"])
def test_qc_transitions_need_a_message(world, api, visit, action):
    query = query_in(world, visit, "answered" if action != "cancel" else "open")
    r = api(world.qc).post(f"/api/queries/{query.pk}/{action}/", {"message": ""}, format="json")
    assert r.status_code == 400


def test_the_list_is_scoped_to_what_each_role_may_see(world, api):
    mine = query_in(world, received(f.visit(world.participant, "BL")), "open")
    theirs = query_raise(actor=world.qc, visit=received(f.visit(world.other_participant, "BL")), subject="x", message="y")
    other_trial = query_raise(actor=None, visit=received(f.visit(world.participant_b, "BL")), subject="x", message="y")

    def ids(user) -> set[int]:
        response = api(user).get("/api/queries/")
        assert response.status_code == 200
        return {q["id"] for q in response.json()["results"]}

    assert ids(world.qc) == ids(world.admin) == ids(world.sponsor) == ids(world.auditor) == {mine.pk, theirs.pk}
    assert ids(world.coordinator) == {mine.pk}
    assert ids(world.other_coordinator) == {theirs.pk}
    assert ids(world.coordinator_b) == ids(world.admin_b) == {other_trial.pk}
    assert ids(world.reader) == ids(world.adjudicator) == ids(world.outsider) == set()
    assert api(None).get("/api/queries/").status_code == 401
    assert api(world.coordinator).get(f"/api/queries/{theirs.pk}/").status_code == 404
    assert api(world.admin_b).get(f"/api/queries/{mine.pk}/").status_code == 404


def test_the_list_filters_by_trial_site_state_category_and_automatic(world, api):
    visit = received(f.visit(world.participant, "BL"))
    manual = query_in(world, visit, "answered")
    auto = query_raise(actor=None, visit=visit, subject="thick", message="thick", category="acquisition", is_automatic=True,
                       cause_key="k")
    client = api(world.qc)

    def ids(params: str) -> set[int]:
        return {q["id"] for q in client.get(f"/api/queries/?{params}").json()["results"]}

    assert ids("trial=TRIAL-A&site=101") == {manual.pk, auto.pk}
    assert ids("site=102") == set() and ids("trial=TRIAL-B") == set()
    assert ids("state=open") == {auto.pk} and ids("state=answered,resolved") == {manual.pk}
    assert ids("category=acquisition") == {auto.pk} and ids("automatic=false") == {manual.pk}
    assert ids(f"visit={visit.pk}&age=0-7") == {manual.pk, auto.pk} and ids("age=31%2B") == set()
    row = next(q for q in client.get("/api/queries/").json()["results"] if q["id"] == auto.pk)
    assert row["raised_by"] == "automated QC" and row["age_days"] == 0 and row["overdue"] is False


# --- notifications --------------------------------------------------------------------------------


def recipients(mailoutbox, verb: str) -> set[str]:
    return {to for m in mailoutbox if verb in m.subject for to in m.to}


def test_each_transition_emails_the_people_who_must_act_next(world, api, visit, mailoutbox):
    f.member(world.trial, "qc_analyst", username="qc_second")
    qc, site = api(world.qc), api(world.coordinator)
    r = qc.post("/api/queries/", {"visit": visit.pk, "message": "Please re-send."}, format="json")
    query_id = r.json()["id"]
    assert recipients(mailoutbox, "New query") == {"coord_101@example.org"}  # not site 102, not the core lab
    mail = next(m for m in mailoutbox if "New query" in m.subject)
    assert "[ICTMS TRIAL-A]" in mail.subject and "101-001" in mail.subject
    assert f"/t/TRIAL-A/queries/{query_id}/" in mail.body and "Please re-send." in mail.body
    site.post(f"/api/queries/{query_id}/answer/", {"message": "Done."}, format="json")
    assert recipients(mailoutbox, "Query answered") == {"qc_a@example.org", "qc_second@example.org"}
    qc.post(f"/api/queries/{query_id}/reopen/", {"message": "Not yet."}, format="json")
    assert recipients(mailoutbox, "Query reopened") == {"coord_101@example.org"}
    site.post(f"/api/queries/{query_id}/answer/", {"message": "Now."}, format="json")
    qc.post(f"/api/queries/{query_id}/resolve/", {"message": "Thanks."}, format="json")
    assert recipients(mailoutbox, "Query resolved") == {"coord_101@example.org"}
    other = qc.post("/api/queries/", {"visit": visit.pk, "message": "Oops."}, format="json").json()["id"]
    qc.post(f"/api/queries/{other}/cancel/", {"message": "Raised by mistake."}, format="json")
    assert recipients(mailoutbox, "Query withdrawn") == {"coord_101@example.org"}
    assert not any("admin_a@example.org" in m.to or "sponsor_a@example.org" in m.to for m in mailoutbox)


def test_a_forbidden_transition_sends_no_email(world, api, visit, mailoutbox):
    query = query_in(world, visit, "resolved")
    mailoutbox.clear()
    assert api(world.coordinator).post(f"/api/queries/{query.pk}/answer/", {"message": "x"}, format="json").status_code == 409
    assert api(world.coordinator).post(f"/api/queries/{query.pk}/resolve/", {"message": "x"}, format="json").status_code == 403
    assert mailoutbox == []
