"""Browser journey: a site coordinator uploads a folder and sees what happened to each file."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from imaging.models import Instance, Submission
from tests.conftest import browser_login
from tests.imaging.upload_helpers import ct_files
from tests.trials import factories as f
from trials.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_cd(tmp_path, n=4):
    root = tmp_path / "CD_EXPORT"
    series = root / "DICOM" / "ST000001" / "SE000001"
    series.mkdir(parents=True)
    for name, data in ct_files(n):
        (series / name).write_bytes(data)
    (root / "README.TXT").write_text("This disc contains images. Not DICOM.")
    return root


def test_coordinator_uploads_a_folder_with_progress_and_per_file_results(page, world, tmp_path):
    visit = f.visit(world.participant, "BL")
    browser_login(page, "coord_101")
    page.goto("/t/TRIAL-A/visits/")
    page.locator("#visit-grid tr", has_text="101-001").locator("td.cell a").first.click()
    page.click("#submit-images")
    page.fill("#id_scan_date", "2026-01-15")
    page.fill("#id_comment", "CT CAP baseline")
    page.click("#transmittal button[type=submit]")
    page.wait_for_selector("#dropzone")

    page.set_input_files("#pick-folder", str(make_cd(tmp_path)))
    expect(page.locator("#files tbody tr")).to_have_count(5)
    expect(page.locator("#files tbody tr[data-status=deidentified]")).to_have_count(4, timeout=30000)
    rejected = page.locator("#files tbody tr[data-status=rejected]")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("not a DICOM file")
    # The browser shows the real file name; the server only keeps a scrubbed one.
    expect(rejected).to_contain_text("README.TXT")
    expect(page.locator("#overall-bar")).to_have_attribute("style", re.compile(r"width:\s*100(\.0+)?%"))

    page.click("#finish")
    expect(page.locator("#submission-state")).to_have_text("Done", timeout=30000)
    assert Instance.objects.count() == 4
    submission = Submission.objects.get()
    assert submission.state == "done" and submission.comment == "CT CAP baseline"
    assert Visit.objects.get(pk=visit.pk).state == "received"

    page.goto(f"/t/TRIAL-A/visits/{visit.pk}/")
    expect(page.locator("#series")).to_contain_text("CHEST ABDOMEN")
    expect(page.locator("#submissions")).to_contain_text("Done")


def test_an_interrupted_upload_resumes_after_a_reload(page, world, tmp_path, settings):
    visit = f.visit(world.participant, "BL")
    browser_login(page, "coord_101")
    page.goto(f"/t/TRIAL-A/visits/{visit.pk}/submit/")
    page.click("#transmittal button[type=submit]")
    page.wait_for_selector("#dropzone")
    big = tmp_path / "IM0001.dcm"
    big.write_bytes(ct_files(1, rows=512, cols=512)[0][1])
    # Fail every chunk after the first: the upload stops part-way.
    calls = {"n": 0}

    def flaky(route):
        calls["n"] += 1
        if calls["n"] > 1:
            route.abort()
        else:
            route.continue_()

    from imaging.models import SubmissionFile

    settings.UPLOAD_CHUNK_MB = 0  # keep the server's chunk size small (pytest-django's fixture restores it)...
    page.evaluate("document.getElementById('uploader').dataset.chunk = '65536'")
    page.route("**/uploads/*/", flaky)
    page.set_input_files("#pick-files", str(big))
    expect(page.locator("#files tbody tr").first).to_have_attribute("data-status", "retrying", timeout=20000)
    page.unroute("**/uploads/*/")
    page.reload()
    # The page lists the unfinished upload once its script has asked the server.
    row = page.locator("#files tbody tr").first
    expect(row).to_have_attribute("data-status", "interrupted")
    received_before = SubmissionFile.objects.get().received_bytes
    assert 0 < received_before < big.stat().st_size
    page.set_input_files("#pick-files", str(big))
    expect(page.locator("#files tbody tr").first).to_have_attribute("data-status", "deidentified", timeout=30000)
    expect(page.locator("#files tbody tr")).to_have_count(1)
    assert Instance.objects.count() == 1
