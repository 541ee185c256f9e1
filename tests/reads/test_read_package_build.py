"""Read packages end to end: request through the API, the eager task builds it, download, verify, read back."""
from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import pyreadstat
import pytest
from django.contrib.auth.models import User

from audit.models import AuditEvent
from reads.models import ReadPackage
from reads.package.manifest import verify_package
from tests.reads.package_world import package_world
from tests.reads.test_adjudication import case, pd_slot  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
URL = "/api/read-packages/"


def _xpt(archive: zipfile.ZipFile, name: str, tmp_path: Path):
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(archive.read(name))
    frame, _ = pyreadstat.read_xport(str(path))
    return frame


@pytest.fixture
def built(world, case, api):  # noqa: F811
    cases = package_world(world, case)
    response = api(world.sponsor).post(URL, {"trial": "TRIAL-A"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "queued"
    package = ReadPackage.objects.get(pk=response.json()["id"])
    return package, cases


def test_a_sponsor_requests_builds_and_downloads_a_package_that_verifies(world, built, api, tmp_path):
    package, cases = built
    detail = api(world.sponsor).get(f"{URL}{package.pk}/").json()
    assert detail["state"] == "ready", detail
    assert detail["files_written"] == detail["files_total"] > 0 and detail["progress_pct"] == 100.0
    assert len(detail["sha256"]) == 64 and detail["size"] > 0 and detail["built_at"]
    listed = api(world.sponsor).get(URL, {"trial": "TRIAL-A"}).json()
    assert [p["id"] for p in listed["results"]] == [package.pk]

    response = api(world.sponsor).get(f"{URL}{package.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    import hashlib

    assert (len(data), hashlib.sha256(data).hexdigest()) == (detail["size"], detail["sha256"])
    assert verify_package(io.BytesIO(data)) is None
    assert AuditEvent.objects.filter(action="read_package.download", target_id=str(package.pk)).count() == 1
    assert AuditEvent.objects.filter(action="read_package.request", target_id=str(package.pk)).count() == 1

    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert names[-1] == "manifest.json"
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["trial"], manifest["created_by"]) == ("TRIAL-A", "SPONSOR")
    assert any(n.startswith("images/101-001/baseline/") and n.endswith(".dcm") for n in names)
    assert not any("101-004" in n for n in names)  # pending adjudication: not final
    assert {"audit/audit.csv", "reads/results.csv", "sdtm/define.xml", "sr/101-003/week-8/radiologist-2.dcm"} <= set(names)
    assert detail["files_total"] == len(names) - 1

    tu, tr, rs = (_xpt(archive, f"sdtm/{n}.xpt", tmp_path) for n in ("tu", "tr", "rs"))
    assert set(tu["USUBJID"]) == {"TRIAL-A-101-001", "TRIAL-A-101-003"}
    assert set(tu["TUEVALID"]) == {"RADIOLOGIST 1", "RADIOLOGIST 2"}
    # 101-001: T1 per reader; 101-003: T1 per reader and reader_b's new liver lesion.
    assert Counter(tu["USUBJID"]) == {"TRIAL-A-101-001": 2, "TRIAL-A-101-003": 3}
    assert set(tr["TRTESTCD"]) >= {"LDIAM", "SUMDIAM"} and (tr["TRORRESU"][tr["TRTESTCD"] == "LDIAM"] == "mm").all()
    overall = rs[(rs["RSTESTCD"] == "OVRLRESP")]
    accepted = overall[overall["RSACPTFL"] == "Y"]
    assert Counter(zip(accepted["USUBJID"], accepted["VISITNUM"], strict=True)) == {
        ("TRIAL-A-101-001", 2.0): 1, ("TRIAL-A-101-003", 2.0): 1}
    assert len(overall) == 4  # both readers' reads at week 8 of both subjects
    chosen = pd_slot(world, cases["101-003"])
    row = accepted[accepted["USUBJID"] == "TRIAL-A-101-003"].iloc[0]
    assert (row["RSEVALID"], row["RSORRES"]) == (f"RADIOLOGIST {chosen}", "PD")
    w8 = world.participant.visits.get(timepoint__code="W8").scan_date.isoformat()
    assert set(overall[overall["USUBJID"] == "TRIAL-A-101-001"]["RSDTC"]) == {w8}

    audit = archive.read("audit/audit.csv").decode()
    assert "RADIOLOGIST 1" in audit and "RADIOLOGIST 2" in audit and "ADJUDICATOR" in audit
    readers = User.objects.filter(username__in=["reader_a", "reader_b", "adjudicator_a", "adjudicator_b"])
    for name in names:
        blob = archive.read(name)
        for user in readers:
            assert user.username.encode() not in blob, (user.username, name)
            full = user.get_full_name()
            if full:
                assert full.encode() not in blob, (full, name)


def test_a_subject_subset_and_a_cutoff(world, case, api):  # noqa: F811
    import datetime as dt

    package_world(world, case, pending=False)
    response = api(world.admin).post(URL, {"trial": "TRIAL-A", "subjects": ["101-003"],
                                           "cutoff": dt.date.today().isoformat()}, format="json")
    assert response.status_code == 201
    package = ReadPackage.objects.get(pk=response.json()["id"])
    assert package.state == "ready" and package.subjects == ["101-003"]
    data = b"".join(api(world.admin).get(f"{URL}{package.pk}/download/").streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.startswith("images/101-003/") for n in names) and not any("101-001" in n for n in names)
    unknown = api(world.admin).post(URL, {"trial": "TRIAL-A", "subjects": ["999-999"]}, format="json")
    assert unknown.status_code == 400


def test_nothing_final_fails_the_build_with_a_reason(world, case, api):  # noqa: F811
    response = api(world.sponsor).post(URL, {"trial": "TRIAL-A"}, format="json")
    package = ReadPackage.objects.get(pk=response.json()["id"])
    assert package.state == "failed" and "final" in package.error
    assert api(world.sponsor).get(f"{URL}{package.pk}/download/").status_code == 409


def test_a_rebuild_of_a_half_built_package_starts_again(world, built):
    from reads.packages import read_package_build

    package, _ = built
    package.refresh_from_db()
    first = package.sha256
    ReadPackage.objects.filter(pk=package.pk).update(state="building", files_written=3, sha256="", size=None)
    rebuilt = read_package_build(package_id=package.pk)
    assert rebuilt.state == "ready" and len(rebuilt.sha256) == 64 and rebuilt.files_written == rebuilt.files_total
    assert first  # the first build was complete too


@pytest.mark.parametrize("persona", ["reader", "adjudicator", "qc", "coordinator", "auditor", "admin_b", "outsider"])
def test_only_the_sponsor_and_admins_see_packages(world, built, api, persona):
    package, _ = built
    client = api(getattr(world, persona))
    assert client.get(f"{URL}{package.pk}/").status_code == 404
    assert client.get(f"{URL}{package.pk}/download/").status_code == 404
    assert client.get(URL, {"trial": "TRIAL-A"}).json()["results"] == []
    assert client.post(URL, {"trial": "TRIAL-A"}, format="json").status_code == 404


def test_anonymous_is_refused(world, api):
    assert api().get(URL).status_code in (401, 403)
    assert api().post(URL, {"trial": "TRIAL-A"}, format="json").status_code in (401, 403)


def test_a_build_that_breaks_midway_is_never_ready_and_the_retry_completes_it(world, case, api, monkeypatch):  # noqa: F811
    from reads import packages

    package_world(world, case, pending=False)

    def broken(*args, **kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(packages, "write_read_documents", broken)
    with pytest.raises(RuntimeError):
        api(world.sponsor).post(URL, {"trial": "TRIAL-A"}, format="json")
    package = ReadPackage.objects.get()
    assert package.state == "failed" and "worker lost" in package.error and not package.sha256
    assert 0 < package.files_written < package.files_total  # the images were written, then it broke
    monkeypatch.undo()
    from reads.tasks import read_package_build_task

    read_package_build_task.delay(package.pk)
    package.refresh_from_db()
    assert package.state == "ready" and package.files_written == package.files_total and package.error == ""
