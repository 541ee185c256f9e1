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
    # The script wires the pickers after the page has parsed: a file chosen before that is lost.
    page.wait_for_load_state("load")

    page.set_input_files("#pick-folder", str(make_cd(tmp_path)))
    expect(page.locator("#files tbody tr")).to_have_count(5)
    expect(page.locator("#files tbody tr[data-status=deidentified]")).to_have_count(4, timeout=60000)
    # The disc's README.TXT is a side file of the export: skipped, not rejected (issue #17, item 8).
    skipped = page.locator("#files tbody tr[data-status=skipped]")
    expect(skipped).to_have_count(1)
    expect(skipped).to_contain_text("skipped: side file")
    expect(skipped).to_contain_text("README.TXT")
    expect(page.locator("#files tbody tr[data-status=rejected]")).to_have_count(0)
    expect(page.locator("#counts [data-count=skipped]")).to_have_text("1")
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
    # The script wires the pickers after the page has parsed: a file chosen before that is lost.
    page.wait_for_load_state("load")
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


def _open_upload_page(page, visit):
    # Playwright turns on file-chooser interception when the first listener subscribes, and does so without
    # waiting: a key pressed right after `expect_file_chooser()` can beat it and open a real (unseen) dialog.
    # Subscribing before the page loads makes sure interception is on by the time a key is pressed.
    page.on("filechooser", lambda chooser: None)
    browser_login(page, "coord_101")
    page.goto(f"/t/TRIAL-A/visits/{visit.pk}/submit/")
    page.click("#transmittal button[type=submit]")
    page.wait_for_load_state("load")  # upload.js (at the end of the page) has wired the pickers


def _tab_to(page, selector, limit=60):
    """Press Tab until `selector` has the focus (a keyboard-only user's way there)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_keyboard_only_user_uploads_a_folder(page, world, tmp_path):
    visit = f.visit(world.participant, "BL")
    _open_upload_page(page, visit)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    _tab_to(page, "#choose-folder")
    # The focused picker shows where the focus is.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    chooser.value.set_files(str(make_cd(tmp_path)))
    expect(page.locator("#files tbody tr[data-status=deidentified]")).to_have_count(4, timeout=60000)
    assert Instance.objects.count() == 4


def test_enter_or_space_on_the_dropzone_opens_the_file_picker(page, world, tmp_path):
    visit = f.visit(world.participant, "BL")
    _open_upload_page(page, visit)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    _tab_to(page, "#dropzone")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    for key in ("Enter", " "):
        with page.expect_file_chooser() as chooser:
            page.keyboard.press(key)
        assert chooser.value.element.get_attribute("id") == "pick-files"
    one = tmp_path / "IM0001.dcm"
    one.write_bytes(ct_files(1)[0][1])
    chooser.value.set_files(str(one))
    expect(page.locator("#files tbody tr[data-status=deidentified]")).to_have_count(1, timeout=30000)


ACCENT = "rgb(31, 95, 168)"  # var(--accent): an enabled primary button


def test_totals_count_waiting_and_skipped_files_and_finish_confirms(page, world, tmp_path):
    visit = f.visit(world.participant, "BL")
    folder = tmp_path / "SERIES"
    folder.mkdir()
    for name, data in ct_files(5):
        (folder / name).write_bytes(data)
    (folder / "Thumbs.db").write_bytes(b"\x00" * 64)
    (folder / ".DS_Store").write_bytes(b"\x00" * 32)
    _open_upload_page(page, visit)
    finish = page.locator("#finish")
    # Disabled looks disabled: not the blue of an enabled primary button.
    expect(finish).to_be_disabled()
    assert page.evaluate("getComputedStyle(document.getElementById('finish')).backgroundColor") != ACCENT

    # Three uploads start; the last two files cannot reach the server for now (they keep retrying). Held by
    # name, not by counting requests: a slow machine retries a start, and a count would then hold the wrong file.
    held = ("IM0004.dcm", "IM0005.dcm")

    def hold_after_three(route):
        body = route.request.post_data or ""
        if any(name in body for name in held):
            route.abort()
        else:
            route.continue_()

    page.route("**/uploads/", hold_after_three)
    page.set_input_files("#pick-folder", str(folder))
    expect(page.locator("#files tbody tr[data-status=deidentified]")).to_have_count(3, timeout=60000)
    # Two files are still waiting: the bar is not full and the totals say so; the OS files count as skipped.
    width = float(re.search(r"width:\s*([\d.]+)%", page.get_attribute("#overall-bar", "style")).group(1))
    assert width < 100
    expect(page.locator("#overall-text")).to_contain_text("of 7 files processed")
    expect(page.locator("#overall-text")).to_contain_text("2 waiting to be sent")
    expect(page.locator("#counts [data-count=skipped]")).to_have_text("2")
    expect(finish).to_be_disabled()

    page.unroute("**/uploads/")
    expect(page.locator("#files tbody tr[data-status=deidentified]")).to_have_count(5, timeout=90000)
    expect(page.locator("#overall-bar")).to_have_attribute("style", re.compile(r"width:\s*100(\.0+)?%"))
    expect(page.locator("#overall-text")).to_contain_text("7 of 7 files processed")
    expect(finish).to_be_enabled()
    assert page.evaluate("getComputedStyle(document.getElementById('finish')).backgroundColor") == ACCENT

    finish.click()
    # Finishing confirms that the core lab was told, and the upload controls go away.
    expect(page.locator("#finished")).to_be_visible()
    expect(page.locator("#finished")).to_contain_text("the core lab has been notified")
    expect(page.locator("#dropzone")).to_have_count(0)
    expect(page.locator("#finish")).to_have_count(0)
    expect(page.locator("#submission-state")).to_have_text("Done", timeout=30000)
    page.reload()
    expect(page.locator("#finished")).to_be_visible()
    expect(page.locator("#dropzone")).to_have_count(0)


def test_an_empty_submission_is_resumed_then_cancelled(page, world):
    visit = f.visit(world.participant, "BL")
    _open_upload_page(page, visit)
    first = Submission.objects.get()
    page.goto(f"/t/TRIAL-A/visits/{visit.pk}/")
    page.click("#submit-images")
    expect(page).to_have_url(re.compile(rf"/submissions/{first.pk}/$"))
    page.click("#cancel-submission button")
    expect(page).to_have_url(re.compile(rf"/visits/{visit.pk}/$"))
    expect(page.locator("#submissions")).to_contain_text("Cancelled")
    assert Submission.objects.get().state == "cancelled"
