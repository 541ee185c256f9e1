"""The auditor investigates one subject in a browser: filter, follow an upload's file events, export as typed."""
from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.imaging.qc_helpers import qc_series
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_auditor_investigates_a_subject_and_exports_what_the_form_shows(page, world, api):
    visit = f.visit(world.participant, "BL")
    upload_all(api(world.coordinator), visit.pk, qc_series(3, series_number=2))
    other = f.visit(world.other_participant, "BL")
    upload_all(api(world.other_coordinator), other.pk, qc_series(3, series_number=2, seed=2))
    browser_login(page, "auditor_a")
    page.goto("/t/TRIAL-A/audit/")
    page.fill("input[name=subject]", "101-001")
    page.keyboard.press("Enter")
    table = page.locator("#audit-events tbody")
    expect(table).to_contain_text("Submission processed")
    expect(table).not_to_contain_text("102-001")
    expect(table.locator("tr[data-action^='submission_file.']")).to_have_count(0)
    # One click from the processed submission to its per-file events.
    table.locator("a.file-events").first.click()
    expect(page.locator("#audit-events tbody tr[data-action='submission_file.deidentify']")).to_have_count(3)
    # Typed, not applied: the export takes the form as it stands.
    page.goto("/t/TRIAL-A/audit/")
    page.fill("input[name=subject]", "102-001")
    with page.expect_download() as download:
        page.click("#audit-export")
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert rows and not [r for r in rows if "101-001" in r["object"]]
    assert any(r["object"] == "102-001" for r in rows)
