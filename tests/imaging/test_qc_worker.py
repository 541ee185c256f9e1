"""The auto-query path end to end on a real Celery worker (Redis + PostgreSQL).

A site uploads through the API a series that breaks the protocol; the worker de-identifies it,
runs automated QC, records the finding and opens a query to the site. A re-upload that fixes
the problem is processed the same way and marks the query answered, never resolved.
"""
from __future__ import annotations

import pytest

from imaging.models import QcFinding, Query, Submission
from tests.conftest import wait_for
from tests.imaging.qc_helpers import cap_requirement, qc_series
from tests.imaging.upload_helpers import as_uploads
from tests.trials import factories as f

pytestmark = [pytest.mark.worker]

STUDY_UID = "1.2.826.0.1.3680043.8.498.5151"


def _submit(client, visit_id: int, files) -> int:
    sub = client.post("/api/submissions/", {"visit": visit_id}, format="json").json()
    r = client.post(f"/api/submissions/{sub['id']}/files/", {"files": as_uploads(files)}, format="multipart")
    assert r.status_code == 201, r.content
    assert client.post(f"/api/submissions/{sub['id']}/complete/").status_code == 200
    return sub["id"]


def test_a_blocking_finding_opens_a_query_and_a_fixing_reupload_answers_it(celery_worker_process, world, api):
    cap_requirement(world.timepoints[0])
    visit = f.visit(world.participant, "BL")
    site = api(world.coordinator)

    first = _submit(site, visit.pk, qc_series(thickness=7.0, description="CHEST 7mm", series_number=3, study_uid=STUDY_UID))
    wait_for(lambda: Query.objects.filter(visit=visit, is_automatic=True).exists(), timeout=120)
    assert Submission.objects.get(pk=first).state == "done"
    query = Query.objects.get(visit=visit, is_automatic=True)
    finding = QcFinding.objects.get(visit=visit, is_current=True, key=query.cause_key)
    assert finding.code == "slice_thickness_exceeded" and finding.severity == "blocking"
    assert query.state == "open" and query.raised_by is None and query.category == "acquisition"
    assert query.messages.get().text.startswith("Series 3 'CHEST 7mm': slice thickness 7.0 mm exceeds the protocol")

    # The site sees it through the API, as a site's script would.
    rows = site.get(f"/api/queries/?visit={visit.pk}&state=open").json()["results"]
    assert [r["id"] for r in rows] == [query.pk] and rows[0]["raised_by"] == "automated QC"
    series = site.get(f"/api/series/?visit={visit.pk}").json()["results"]
    assert "slice_thickness_exceeded" in {x["code"] for x in series[0]["findings"]}

    second = _submit(site, visit.pk, qc_series(thickness=2.5, description="CHEST 2.5mm", series_number=4, seed=4,
                                               study_uid=STUDY_UID))
    wait_for(lambda: Query.objects.get(pk=query.pk).state == "answered", timeout=120)
    query.refresh_from_db()
    last = query.messages.order_by("id").last()
    assert last.action == "auto_answer" and last.author is None and last.submission_id == second
    assert not Query.objects.filter(visit=visit, state="resolved").exists()
    assert not QcFinding.objects.filter(visit=visit, is_current=True, key=query.cause_key).exists()
