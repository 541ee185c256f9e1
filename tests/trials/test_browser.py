"""Browser journeys (Playwright + Debian's Chromium) for set-up and enrolment."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import browser_login
from trials.models import Participant, TimepointDefinition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_enrols_a_participant_and_sees_the_visit_grid(page, world):
    browser_login(page, "coord_101")
    assert page.url.endswith("/t/TRIAL-A/participants/")
    assert page.locator("#participants").inner_text().count("102-001") == 0

    page.fill("#id_subject_code", "101-042")
    start = dt.date.today() - dt.timedelta(days=60)
    page.fill("#id_treatment_start_date", start.isoformat())
    page.click("#enrol button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Participant 101-042 enrolled" in page.content()
    assert Participant.objects.filter(subject_code="101-042", site=world.site).exists()

    page.click("text=Visit grid")
    grid = page.locator("#visit-grid")
    row = grid.locator("tr", has_text="101-042")
    cells = row.locator("td.cell")
    # Baseline window closed 60 days ago (overdue), Week 8 window is open now (due), Week 16 ahead.
    assert [cells.nth(i).get_attribute("data-status") for i in range(3)] == ["overdue", "due", "upcoming"]
    w8 = start + dt.timedelta(days=56)
    assert (w8 - dt.timedelta(days=7)).strftime("%d %b") in cells.nth(1).inner_text()
    # Statuses are drawn in colour.
    due_bg = cells.nth(1).evaluate("el => getComputedStyle(el).backgroundColor")
    overdue_bg = cells.nth(0).evaluate("el => getComputedStyle(el).backgroundColor")
    assert due_bg != overdue_bg and due_bg != "rgba(0, 0, 0, 0)"
    assert "102-001" not in grid.inner_text()


def test_enrolment_errors_are_shown_and_nothing_is_created(page, world):
    browser_login(page, "coord_101")
    page.fill("#id_subject_code", "999-001")
    page.click("#enrol button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "does not match" in page.locator("#enrol").inner_text()
    assert not Participant.objects.filter(subject_code="999-001").exists()


def test_admin_adds_a_timepoint_to_the_schedule(page, world):
    browser_login(page, "admin_a")
    page.click("text=Schedule")
    form = page.locator("#add-timepoint")
    form.locator("#id_tp-code").fill("W24")
    form.locator("#id_tp-label").fill("Week 24")
    form.locator("#id_tp-order").fill("4")
    form.locator("#id_tp-nominal_day").fill("168")
    form.locator("#id_tp-window_before").fill("7")
    form.locator("#id_tp-window_after").fill("7")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "Timepoint W24 added" in page.content()
    assert "Week 24" in page.locator("#schedule").inner_text()
    assert TimepointDefinition.objects.filter(trial=world.trial, code="W24", nominal_day=168).exists()

    # Add its imaging requirement from the timepoint page.
    page.locator("#schedule tr", has_text="W24").locator("text=Edit").click()
    page.select_option("#id_req-modality", "CT")
    page.fill("#id_req-body_region", "Chest/abdomen/pelvis")
    page.select_option("#id_req-contrast", "required")
    page.fill("#id_req-max_slice_thickness_mm", "5")
    page.click("text=Add requirement")
    page.wait_for_load_state("networkidle")
    assert "Imaging requirement added" in page.content()
    tp = TimepointDefinition.objects.get(trial=world.trial, code="W24")
    assert tp.imaging_requirements.get().max_slice_thickness_mm == 5


def test_admin_invites_a_member_and_changes_a_role_with_a_reason(page, world):
    browser_login(page, "admin_a")
    page.click("text=Members")
    page.fill("#id_email", "new.reader@example.org")
    page.select_option("#id_role", "reader")
    page.click("#invite button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "new.reader is now Reader" in page.content()

    page.locator("#members tr", has_text="sponsor_a").locator("text=Change role").click()
    page.select_option("#id_role-role", "auditor")
    # The reason is mandatory: the browser refuses to submit without it.
    assert page.locator("#id_role-reason").evaluate("el => el.required")
    page.fill("#id_role-reason", "now monitoring")
    page.locator("form", has_text="Change role").locator("button").click()
    page.wait_for_load_state("networkidle")
    assert "Role of sponsor_a changed" in page.content()
