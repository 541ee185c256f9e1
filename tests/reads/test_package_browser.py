"""Browser journey of the sponsor: the dashboard's waterfall plot, a read package requested from the
page, its progress followed while a real Celery worker builds it, and the zip downloaded and verified.

The worker is stopped while the package is requested, so the row is first seen queued at 0 %; the
worker then builds it and the page fills the row in place (no reload) with the bar at 100 %, the size,
the SHA-256 and the download link. Driven with the keyboard.
"""
from __future__ import annotations

import hashlib
import re

import pytest
from playwright.sync_api import expect

from reads.models import ReadPackage
from reads.package.manifest import verify_package
from tests.conftest import browser_login
from tests.reads.package_world import package_world
from tests.reads.test_adjudication import case, pd_slot  # noqa: F401  (the fixture)
from tests.reads.test_adjudication_browser import press

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_sponsor_sees_the_waterfall_requests_a_package_watches_it_build_and_downloads_it(
        celery_worker_process, page, world, case, tmp_path):  # noqa: F811
    package_world(world, case, pending=False)
    browser_login(page, world.sponsor.username)
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/reads/dashboard/$"))
    waterfall = page.get_by_role("img", name=re.compile("Waterfall plot"))
    expect(waterfall).to_be_visible()
    expect(page.locator("#waterfall-table tbody tr")).to_have_count(2)  # 101-001 and 101-003, final reads only

    press(page, page.locator("nav.mainnav").get_by_role("link", name="Read packages"), "Enter")
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/reads/packages/$"))
    celery_worker_process.stop()  # the request waits in the queue until a worker comes back
    subjects = page.get_by_label("Subjects")
    subjects.focus()
    page.keyboard.type("101-001, 101-003")
    press(page, page.get_by_role("button", name="Build a read package"), "Enter")
    expect(page).to_have_url(re.compile(r"/reads/packages/#package-\d+$"))
    package = ReadPackage.objects.get()
    row = page.locator(f"#package-{package.pk}")
    expect(row).to_have_attribute("data-state", "queued")
    bar = row.get_by_role("progressbar")
    expect(bar).to_have_attribute("value", "0")
    expect(row).to_contain_text("waiting for a worker")
    page.evaluate("window.__notReloaded = true")

    celery_worker_process.start()
    expect(row).to_have_attribute("data-state", "ready", timeout=90_000)
    package.refresh_from_db()
    expect(bar).to_have_attribute("value", "100")
    expect(row).to_contain_text(f"{package.files_total} of {package.files_total} files")
    expect(row.locator(".sha256")).to_have_text(package.sha256)
    expect(page.locator("#package-status")).to_have_text(f"Read package {package.pk} is ready to download.")
    assert page.evaluate("window.__notReloaded") is True  # filled in place

    link = row.get_by_role("link", name="Download zip")
    with page.expect_download() as info:
        press(page, link, "Enter")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == f"TRIAL-A-read-package-{package.pk}.zip"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == package.sha256
    assert verify_package(path) is None
