"""A reader's image-quality query to QC: raised from the task, blocks signing, answered by QC."""
from __future__ import annotations

import pytest

from reads.models import QualityQuery, ReadTask
from tests.reads.factories import imaged_case, measure

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


def _bl(world, case):
    return ReadTask.objects.get(assignment__case=case, assignment__reader=world.reader, sequence=0)


def test_a_quality_query_blocks_signing_until_qc_answers(world, api, page_client):
    case = imaged_case(world)
    bl = _bl(world, case)
    reader = api(world.reader)
    reader.post(f"/api/read-tasks/{bl.pk}/lesions/", {"kind": "target", "organ": "lung",
                                                      "measurement": measure(world.reader, bl.visit, 30).pk},
                format="json")
    assert reader.post(f"/api/read-tasks/{bl.pk}/quality-queries/", {"message": " "}, format="json").status_code == 400
    response = reader.post(f"/api/read-tasks/{bl.pk}/quality-queries/",
                           {"message": "Arterial phase only: the liver lesion is not visible."}, format="json")
    assert response.status_code == 201
    assert response.json()["quality_queries"][0]["state"] == "open"
    assert response.json()["missing"][-1]["message"].startswith("Your image-quality query")
    blocked = reader.post(f"/api/read-tasks/{bl.pk}/sign/", {"password": PASSWORD}, format="json")
    assert blocked.status_code == 409

    query = QualityQuery.objects.get()
    for user in (world.sponsor, world.coordinator, world.reader2, world.admin_b):
        assert api(user).get("/api/read-quality-queries/").json()["results"] == []
        assert api(user).post(f"/api/read-quality-queries/{query.pk}/answer/", {"message": "x"},
                              format="json").status_code == 404
    rows = api(world.qc).get("/api/read-quality-queries/?trial=TRIAL-A").json()["results"]
    assert rows[0]["subject_code"] == "101-001" and rows[0]["reader"] in ("Reader 1", "Reader 2")
    page = page_client(world.qc).get("/t/TRIAL-A/reads/quality-queries/")
    assert page.status_code == 200 and b"Arterial phase only" in page.content
    answered = page_client(world.qc).post("/t/TRIAL-A/reads/quality-queries/",
                                          {"query": query.pk, "message": "Series 3 is the portal venous phase."})
    assert answered.status_code == 302
    detail = reader.get(f"/api/read-tasks/{bl.pk}/").json()
    assert detail["quality_queries"][0]["answer"] == "Series 3 is the portal venous phase."
    assert "qc_a" not in str(detail["quality_queries"])
    assert reader.post(f"/api/read-tasks/{bl.pk}/sign/", {"password": PASSWORD}, format="json").status_code == 200


def test_only_qc_sees_the_queries_page(world, page_client):
    for user, status in ((world.qc, 200), (world.reader, 403), (world.sponsor, 403), (world.admin_b, 404)):
        assert page_client(user).get("/t/TRIAL-A/reads/quality-queries/").status_code == status
