"""The reads API of api.md: read design, organs, read cases, read tasks, through HTTP as each role."""
from __future__ import annotations

import pytest

from reads.models import ReadCase, ReadTask
from tests.reads.factories import accept, double_read
from tests.trials import factories as f

pytestmark = pytest.mark.django_db

DESIGN = {"paradigm": "double", "readers": ["reader_a", "reader_b"], "adjudicators": ["adjudicator_a"]}


def _url(world) -> str:
    return f"/api/trials/{world.trial.code}/read-design/"


def _case(world):
    double_read(world)
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    accept(f.visit(world.participant, "W8"), actor=world.qc)
    return ReadCase.objects.get(participant=world.participant)


def test_the_admin_puts_and_gets_the_read_design(world, api):
    f.member(world.trial, "reader", username="reader_b")
    client = api(world.admin)
    assert client.get(_url(world)).status_code == 404  # none yet
    response = client.put(_url(world), {**DESIGN, "triggers": ["best_response", "overall_response"],
                                         "sd_min_weeks": 8}, format="json")
    assert response.status_code == 200, response.json()
    body = client.get(_url(world)).json()
    assert body["paradigm"] == "double" and body["readers"] == ["reader_a", "reader_b"]
    assert body["triggers"] == ["best_response", "overall_response"] and body["sd_min_weeks"] == 8
    assert body["criteria"] == "recist_1_1" and body["version"] == 1


def test_bad_read_designs_answer_400_and_change_nothing(world, api):
    f.member(world.trial, "reader", username="reader_b")
    client = api(world.admin)
    for bad, field in [({**DESIGN, "readers": ["reader_a", "sponsor_a"]}, "readers"),
                       ({**DESIGN, "triggers": ["coin"]}, "triggers"),
                       ({**DESIGN, "paradigm": "triple"}, "paradigm"),
                       ({**DESIGN, "adjudicators": []}, "adjudicators"),
                       ({**DESIGN, "readers": ["reader_a"]}, "readers")]:
        response = client.put(_url(world), bad, format="json")
        assert response.status_code == 400, bad
        assert field in response.json()
    assert client.get(_url(world)).status_code == 404


def test_only_the_trial_admin_may_see_or_set_the_read_design(world, api):
    double_read(world)
    for user in (world.reader, world.qc, world.sponsor, world.coordinator, world.adjudicator):
        assert api(user).get(_url(world)).status_code == 403
        assert api(user).put(_url(world), DESIGN, format="json").status_code == 403
    assert api(world.admin_b).get(_url(world)).status_code == 404
    assert api(None).get(_url(world)).status_code == 401


def test_the_organ_list(world, api):
    organs = api(world.reader).get("/api/read-organs/").json()["organs"]
    assert {"lung", "liver", "lymph node", "bone", "brain", "other"} <= set(organs)


def test_admins_see_subject_codes_readers_only_case_codes(world, api):
    case = _case(world)
    admin_rows = api(world.admin).get(f"/api/read-cases/?trial={world.trial.code}").json()["results"]
    assert admin_rows[0]["code"] == case.code and admin_rows[0]["subject_code"] == "101-001"
    assert {r["username"] for r in admin_rows[0]["readers"]} == {"reader_a", "reader_b"}
    assert admin_rows[0]["progress"] == {"signed": 0, "total": 6}
    reader_rows = api(world.reader).get("/api/read-cases/").json()["results"]
    assert reader_rows == [{"id": case.pk, "code": case.code}]
    for user in (world.qc, world.sponsor, world.coordinator, world.auditor, world.adjudicator, world.admin_b):
        assert api(user).get("/api/read-cases/").json()["results"] == []
        assert api(user).get(f"/api/read-cases/{case.pk}/").status_code == 404


def test_reassignment_through_the_api(world, api):
    f.member(world.trial, "reader", username="reader_c")
    double_read(world, readers=["reader_a", "reader_b", "reader_c"])
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    case = ReadCase.objects.get()
    current = sorted(case.assignments.values_list("reader__username", flat=True))
    free = ({"reader_a", "reader_b", "reader_c"} - set(current)).pop()
    url = f"/api/read-cases/{case.pk}/reassign/"
    body = {"from": current[0], "to": free, "reason": "Reader unavailable"}
    assert api(world.reader).post(url, body, format="json").status_code in (403, 404)
    assert api(world.admin).post(url, {**body, "reason": ""}, format="json").status_code == 400
    response = api(world.admin).post(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert free in {r["username"] for r in response.json()["readers"]}


def test_a_reader_lists_only_their_own_tasks_in_their_order(world, api):
    case = _case(world)
    rows = api(world.reader).get(f"/api/read-tasks/?trial={world.trial.code}").json()["results"]
    assert [r["timepoint_code"] for r in rows] == ["BL", "W8", "W16"]
    assert [r["state"] for r in rows] == ["ready", "waiting", "waiting"]
    assert [r["order"] for r in rows] == [1, 2, 3] and [r["timepoint_order"] for r in rows] == [0, 1, 2]
    assert {r["case"] for r in rows} == {case.code}
    mine = set(ReadTask.objects.filter(assignment__reader=world.reader).values_list("pk", flat=True))
    assert {r["id"] for r in rows} == mine
    ready = api(world.reader).get("/api/read-tasks/?state=ready").json()["results"]
    assert [r["timepoint_code"] for r in ready] == ["BL"] and ready[0]["order"] == 1
    assert api(world.reader).get("/api/read-tasks/?state=bogus").status_code == 400
    text = str(rows)
    assert "101-001" not in text and "101" not in str([r["case"] for r in rows])


def test_task_detail_is_the_readers_own_and_waiting_tasks_show_no_series(world, api):
    _case(world)
    own = ReadTask.objects.filter(assignment__reader=world.reader).order_by("sequence")
    ready, waiting = own[0], own[1]
    body = api(world.reader).get(f"/api/read-tasks/{ready.pk}/").json()
    assert body["state"] == "ready" and body["lesions"] == [] and body["signature"] is None
    body = api(world.reader).get(f"/api/read-tasks/{waiting.pk}/").json()
    assert body["state"] == "waiting" and body["series"] == []
    other = ReadTask.objects.filter(assignment__reader=world.reader2).first()
    assert api(world.reader).get(f"/api/read-tasks/{other.pk}/").status_code == 404
    for user in (world.admin, world.qc, world.sponsor, world.coordinator, world.adjudicator, world.admin_b):
        assert api(user).get(f"/api/read-tasks/{ready.pk}/").status_code == 404
        assert api(user).get("/api/read-tasks/").json()["results"] == []
    assert api(None).get("/api/read-tasks/").status_code == 401


def test_list_endpoints_make_a_constant_number_of_queries(world, api, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    double_read(world)
    accept(f.visit(world.participant, "BL"), actor=world.qc)

    def count(user, url):
        with CaptureQueriesContext(connection) as ctx:
            assert api(user).get(url).status_code == 200
        return len(ctx)

    small = (count(world.admin, "/api/read-cases/"), count(world.reader, "/api/read-tasks/"))
    for i in range(2, 7):
        accept(f.visit(f.participant(world.coordinator, world.site, f"101-00{i}"), "BL"), actor=world.qc)
    large = (count(world.admin, "/api/read-cases/"), count(world.reader, "/api/read-tasks/"))
    assert small == large
