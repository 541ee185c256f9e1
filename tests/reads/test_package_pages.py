"""The read-package page: request through the form, the list with progress, size and SHA-256, the audited download.

The route matrix (tests/ictms/test_routes.py) pins who may open the page and the download; these
pin what the page does and refuses.
"""
from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from reads.choices import ReadPackageState
from reads.models import ReadPackage
from reads.package.manifest import verify_package
from tests.reads.package_world import package_world
from tests.reads.test_adjudication import case, pd_slot  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
URL = "/t/TRIAL-A/reads/packages/"


def test_the_sponsor_requests_a_package_and_downloads_what_the_row_describes(world, case, page_client, tmp_path):  # noqa: F811
    package_world(world, case, pending=False)
    client = page_client(world.sponsor)
    response = client.post(URL, {"cutoff": "", "subjects": "101-003"})
    package = ReadPackage.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"{URL}#package-{package.pk}")
    assert package.subjects == ["101-003"] and package.state == ReadPackageState.READY  # eager Celery built it

    page = client.get(URL).content.decode()
    assert f'id="package-{package.pk}"' in page and 'data-state="ready"' in page
    assert package.sha256 in page and f"{package.files_total} of {package.files_total} files" in page
    assert "101-003" in page and "every visit" in page
    download = f"/t/TRIAL-A/reads/packages/{package.pk}/download/"
    assert download in page
    assert "js/packages.js" not in page  # nothing left to follow

    response = client.get(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"TRIAL-A-read-package-{package.pk}.zip" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == package.sha256 and len(body) == package.size
    path = tmp_path / "package.zip"
    path.write_bytes(body)
    assert verify_package(path) is None
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert any(n.startswith("images/101-003/") for n in names)
    assert not any(n.startswith("images/101-001/") for n in names)
    actions = list(AuditEvent.objects.filter(target_id=str(package.pk), action__startswith="read_package")
                   .order_by("seq").values_list("action", "actor__username"))
    assert actions[0] == ("read_package.request", world.sponsor.username)
    assert actions[-1] == ("read_package.download", world.sponsor.username)


def test_an_unknown_subject_or_a_bad_date_is_refused_on_the_form_and_queues_nothing(world, page_client):
    client = page_client(world.sponsor)
    response = client.post(URL, {"subjects": "101-001, 999-999"})
    assert response.status_code == 400
    assert "Not subjects of this trial: 999-999." in response.content.decode()
    response = client.post(URL, {"cutoff": "2026-13-45"})
    assert response.status_code == 400 and "Enter the date as YYYY-MM-DD" in response.content.decode()
    assert not ReadPackage.objects.exists()
    assert not AuditEvent.objects.filter(action="read_package.request").exists()


def test_an_unfinished_package_shows_its_progress_and_sends_the_download_back(world, page_client):
    package = ReadPackage.objects.create(trial=world.trial, requested_by=world.sponsor, state=ReadPackageState.BUILDING,
                                         files_written=30, files_total=120)
    client = page_client(world.sponsor)
    page = client.get(URL).content.decode()
    assert '<progress max="100" value="25"' in page and "30 of 120 files" in page
    assert 'data-state="building"' in page and "js/packages.js" in page
    response = client.get(f"/t/TRIAL-A/reads/packages/{package.pk}/download/")
    assert response.status_code == 302 and response["Location"] == URL
    assert "is not ready yet" in client.get(URL).content.decode()
    assert not AuditEvent.objects.filter(action="read_package.download").exists()


def test_a_package_of_another_trial_is_not_found_through_this_trials_url(world, page_client):
    other = ReadPackage.objects.create(trial=world.other_trial, requested_by=world.admin_b,
                                       state=ReadPackageState.READY, storage_key="packages/x.zip", sha256="0" * 64)
    assert page_client(world.admin_b).get(f"/t/TRIAL-A/reads/packages/{other.pk}/download/").status_code == 404
    assert str(other.sha256) not in page_client(world.sponsor).get(URL).content.decode()
    assert page_client(world.sponsor).get(f"/t/TRIAL-A/reads/packages/{other.pk}/download/").status_code == 404


def test_the_list_makes_the_same_number_of_queries_for_one_package_or_many(world, page_client):
    client = page_client(world.sponsor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    ReadPackage.objects.create(trial=world.trial, requested_by=world.sponsor)
    one = queries()
    for _ in range(6):
        ReadPackage.objects.create(trial=world.trial, requested_by=world.admin, state=ReadPackageState.BUILDING)
    assert queries() == one
