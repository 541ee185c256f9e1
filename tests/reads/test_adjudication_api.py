"""Adjudications, results and metrics through the API of api.md, as each role."""
from __future__ import annotations

import pytest

from reads.models import Adjudication
from tests.reads.test_adjudication import _read, case, pd_slot  # noqa: F401 (the fixture)
from tests.trials import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(world, case):  # noqa: F811
    _read(world, case, world.reader, 20)  # PR
    _read(world, case, world.reader2, 41, new="unequivocal")  # PD
    return Adjudication.objects.get()


def test_the_adjudicator_compares_both_reads_blinded_and_decides(world, disputed, api):
    client = api(disputed.adjudicator)
    rows = client.get("/api/adjudications/?trial=TRIAL-A").json()["results"]
    assert [(r["case"], r["state"]) for r in rows] == [(disputed.case.code, "open")]
    detail = client.get(f"/api/adjudications/{disputed.pk}/").json()
    assert [r["reader"] for r in detail["reads"]] == [1, 2]
    slot = pd_slot(world, disputed.case)
    one, two = detail["reads"][2 - slot], detail["reads"][slot - 1]  # reader_a's (PR), reader_b's (PD)
    assert [t["overall"] for t in one["timepoints"]] == [None, "PR"]
    assert [t["overall"] for t in two["timepoints"]] == [None, "PD"]
    assert two["progression_timepoint"] == "Week 8" and two["progression_days_since_baseline"] == 56
    assert one["lesions"][0]["observations"][0]["measurement"]["series"]
    text = str(detail)
    for hidden in ("101-001", "Site 101", "reader_a", "reader_b", "2026-", "2025-"):
        assert hidden not in text.replace(str(detail["created_at"]), ""), hidden
    # The adjudicator can open the compared images (blinded), and nothing later.
    series = one["lesions"][0]["observations"][1]["measurement"]["series"]
    assert client.get(f"/api/series/{series}/").status_code == 200
    bad = client.post(f"/api/adjudications/{disputed.pk}/decide/",
                      {"selected": 2, "reason_code": "new_lesion_call", "rationale": "ok", "password": "x"}, format="json")
    assert bad.status_code == 403
    good = client.post(f"/api/adjudications/{disputed.pk}/decide/",
                       {"selected": slot, "reason_code": "new_lesion_call", "rationale": "Unequivocal new liver lesion.",
                        "password": f.PASSWORD}, format="json")
    assert good.status_code == 200 and good.json()["state"] == "decided"
    again = client.post(f"/api/adjudications/{disputed.pk}/decide/",
                        {"selected": 1, "reason_code": "measurement", "rationale": "x", "password": f.PASSWORD},
                        format="json")
    assert again.status_code == 409


def test_nobody_else_sees_the_adjudication(world, disputed, api):
    for user in (world.reader, world.reader2, world.qc, world.sponsor, world.coordinator, world.admin_b):
        assert api(user).get("/api/adjudications/").json()["results"] == []
        assert api(user).get(f"/api/adjudications/{disputed.pk}/").status_code == 404
    other = world.adjudicator if disputed.adjudicator != world.adjudicator else world.adjudicator2
    assert api(other).get(f"/api/adjudications/{disputed.pk}/").status_code == 404
    assert api(world.admin).get(f"/api/adjudications/{disputed.pk}/").status_code == 200


def test_results_pending_for_the_admin_hidden_from_the_sponsor_until_decided(world, disputed, api):
    admin_rows = api(world.admin).get("/api/read-results/?trial=TRIAL-A").json()["results"]
    assert [(r["subject_code"], r["timepoint"], r["source"]) for r in admin_rows] == [("101-001", "Week 8", "pending")]
    assert api(world.sponsor).get("/api/read-results/?trial=TRIAL-A").json()["results"] == []
    for user in (world.reader, world.adjudicator, world.coordinator):
        assert api(user).get("/api/read-results/?trial=TRIAL-A").status_code == 404
    from reads.adjudication import adjudication_decide

    slot = pd_slot(world, disputed.case)
    adjudication_decide(actor=disputed.adjudicator, adjudication=disputed, selected=slot, reason_code="new_lesion_call",
                        rationale="New lesion.", password=f.PASSWORD)
    [row] = api(world.sponsor).get("/api/read-results/?trial=TRIAL-A").json()["results"]
    assert row["source"] == "adjudication" and row["overall"] == "PD" and row["reader"] == slot


def test_metrics_by_name_for_the_admin_and_by_pseudonym_for_qc_and_sponsor(world, disputed, api):
    from reads.adjudication import adjudication_decide

    adjudication_decide(actor=disputed.adjudicator, adjudication=disputed, selected=2, reason_code="new_lesion_call",
                        rationale="New lesion.", password=f.PASSWORD)
    admin = api(world.admin).get("/api/read-metrics/?trial=TRIAL-A").json()
    assert "reader_a" in str(admin) and "reader_b" in str(admin)
    for user in (world.qc, world.sponsor):
        body = api(user).get("/api/read-metrics/?trial=TRIAL-A")
        assert body.status_code == 200
        assert "reader_a" not in str(body.json()) and "Reader A" in str(body.json())
    assert api(world.reader).get("/api/read-metrics/?trial=TRIAL-A").status_code == 404
