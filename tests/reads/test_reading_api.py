"""A whole read driven through the API of api.md, with its refusals (a validation script's view)."""
from __future__ import annotations

import pytest

from reads.models import ReadTask
from tests.reads.factories import imaged_case, measure

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


@pytest.fixture
def case(world):
    world.reader.set_password(PASSWORD)
    world.reader.save()
    return imaged_case(world)


def _task(world, case, code):
    return ReadTask.objects.get(assignment__case=case, assignment__reader=world.reader, visit__timepoint__code=code)


def _url(task, action=""):
    return f"/api/read-tasks/{task.pk}/" + (f"{action}/" if action else "")


def test_baseline_and_follow_up_through_the_api(world, case, api):
    client = api(world.reader)
    bl = _task(world, case, "BL")
    assert client.post(_url(bl, "start")).json()["state"] == "in_progress"
    m = measure(world.reader, bl.visit, 32)
    response = client.post(_url(bl, "lesions"), {"kind": "target", "organ": "lung", "location": "RUL",
                                                 "lymph_node": False, "measurement": m.pk}, format="json")
    assert response.status_code == 201, response.json()
    t1 = response.json()
    assert t1["label"] == "T1" and t1["observation"]["diameter_mm"] == 32.0
    node = measure(world.reader, bl.visit, 28, short_axis_mm=18)
    t2 = client.post(_url(bl, "lesions"), {"kind": "target", "organ": "lymph node", "measurement": node.pk},
                     format="json").json()
    assert t2["label"] == "T2" and t2["lymph_node"] and t2["observation"]["diameter_mm"] == 18.0
    nt = client.post(_url(bl, "lesions"), {"kind": "non_target", "organ": "bone"}, format="json").json()
    detail = client.get(_url(bl)).json()
    assert detail["response"]["sum_mm"] == 50 and detail["missing"] == []
    assert client.post(_url(bl, "sign"), {"password": "nope"}, format="json").status_code == 403
    signed = client.post(_url(bl, "sign"), {"password": PASSWORD}, format="json")
    assert signed.status_code == 200, signed.json()
    sig = signed.json()["signature"]
    assert sig["meaning"] == "I am the author of this assessment and approve it" and len(sig["sha256"]) == 64
    assert client.post(_url(bl, "sign"), {"password": PASSWORD}, format="json").status_code == 409
    assert client.post(_url(bl, "lesions"), {"kind": "non_target", "organ": "liver"}, format="json").status_code == 409

    w8 = _task(world, case, "W8")
    body = client.get(_url(w8)).json()
    assert body["state"] == "ready" and [row["label"] for row in body["lesions"]] == ["T1", "T2", "NT1"]
    assert body["lesions"][0]["prior"][0]["observation"]["diameter_mm"] == 32.0
    typed = client.post(_url(w8, "observations"), {"lesion": t1["id"], "diameter_mm": 20}, format="json")
    assert typed.status_code == 400 and "never typed" in str(typed.json())
    for payload in ({"lesion": t1["id"], "measurement": measure(world.reader, w8.visit, 20).pk},
                    {"lesion": t2["id"], "measurement": measure(world.reader, w8.visit, 20, short_axis_mm=8).pk},
                    {"lesion": nt["id"], "status": "present"}):
        assert client.post(_url(w8, "observations"), payload, format="json").status_code == 201
    incomplete = client.post(_url(w8, "sign"), {"password": PASSWORD}, format="json")
    assert incomplete.status_code == 409 and incomplete.json()["missing"]
    assert client.patch(_url(w8), {"new_lesions": "none"}, format="json").status_code == 200
    live = client.get(_url(w8)).json()["response"]
    assert live["sum_mm"] == 28 and live["change_from_baseline_pct"] == -44.0 and live["overall"] == "PR"
    assert client.post(_url(w8, "sign"), {"password": PASSWORD}, format="json").status_code == 200
    rows = client.get("/api/read-tasks/").json()["results"]
    assert [r["state"] for r in rows] == ["signed", "signed", "ready"]


def test_removing_and_replacing_before_signing(world, case, api):
    client = api(world.reader)
    bl = _task(world, case, "BL")
    first = client.post(_url(bl, "lesions"), {"kind": "target", "organ": "liver",
                                              "measurement": measure(world.reader, bl.visit, 40).pk}, format="json")
    lesion = first.json()["id"]
    again = client.post(_url(bl, "observations"),
                        {"lesion": lesion, "measurement": measure(world.reader, bl.visit, 44).pk}, format="json")
    assert again.status_code == 201
    assert client.get(_url(bl)).json()["response"]["sum_mm"] == 44
    assert client.delete(f"{_url(bl)}lesions/{lesion}/").status_code == 204
    assert client.get(_url(bl)).json()["lesions"] == []


def test_other_people_cannot_touch_the_read(world, case, api):
    bl = _task(world, case, "BL")
    for user in (world.reader2, world.admin, world.qc, world.adjudicator, world.sponsor, world.coordinator):
        response = api(user).post(_url(bl, "lesions"), {"kind": "non_target", "organ": "liver"}, format="json")
        assert response.status_code == 404, user
    assert api(None).post(_url(bl, "lesions"), {"kind": "non_target", "organ": "liver"}, format="json").status_code == 401


def test_the_admin_reopens_and_marks_not_done(world, case, api):
    client = api(world.reader)
    bl = _task(world, case, "BL")
    client.post(_url(bl, "lesions"), {"kind": "target", "organ": "lung",
                                      "measurement": measure(world.reader, bl.visit, 30).pk}, format="json")
    client.post(_url(bl, "sign"), {"password": PASSWORD}, format="json")
    assert api(world.reader).post(_url(bl, "reopen"), {"reason": "x"}, format="json").status_code == 403
    assert api(world.qc).post(_url(bl, "reopen"), {"reason": "x"}, format="json").status_code == 404
    assert api(world.admin).post(_url(bl, "reopen"), {"reason": ""}, format="json").status_code == 400
    response = api(world.admin).post(_url(bl, "reopen"), {"reason": "Re-measure T1"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "in_progress"
    detail = client.get(_url(bl)).json()
    assert detail["signature"] is None and detail["signature_history"][0]["superseded"]
    not_done = api(world.admin).post(f"/api/read-cases/{case.pk}/not-done/", {"timepoint": "W8", "reason": "Missed"},
                                     format="json")
    assert not_done.status_code == 200 and {t["state"] for t in not_done.json()["tasks"]} == {"not_done"}


def test_the_reading_page_calls_make_a_constant_number_of_queries(world, case, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(world.reader)
    bl = _task(world, case, "BL")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(bl)).status_code == 200
        return len(ctx)

    client.post(_url(bl, "lesions"), {"kind": "target", "organ": "lung",
                                      "measurement": measure(world.reader, bl.visit, 30).pk}, format="json")
    few = count()
    for organ in ("liver", "kidney", "spleen", "bone"):
        client.post(_url(bl, "lesions"), {"kind": "target", "organ": organ,
                                          "measurement": measure(world.reader, bl.visit, 25).pk}, format="json")
    for organ in ("pleura", "peritoneum", "brain"):
        client.post(_url(bl, "lesions"), {"kind": "non_target", "organ": organ}, format="json")
    assert count() == few
