"""Browser journeys (Playwright + Debian's Chromium) for set-up and enrolment."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from trials.models import Participant, TimepointDefinition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Visit status colours: --st-overdue, --st-due and --st-upcoming in static/css/app.css.
OVERDUE_RED = "rgb(249, 201, 197)"
DUE_YELLOW = "rgb(255, 241, 194)"
UPCOMING_GREY = "rgb(233, 237, 242)"


def test_coordinator_enrols_a_participant_and_sees_the_visit_grid(page, world):
    browser_login(page, "coord_101")
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/participants/$"))
    expect(page.locator("#participants")).to_contain_text("101-001")
    expect(page.locator("#participants")).not_to_contain_text("102-001")

    page.fill("#id_subject_code", "101-042")
    start = dt.date.today() - dt.timedelta(days=60)
    page.fill("#id_treatment_start_date", start.isoformat())
    page.click("#enrol button[type=submit]")
    expect(page.get_by_text("Participant 101-042 enrolled")).to_be_visible()
    assert Participant.objects.filter(subject_code="101-042", site=world.site).exists()

    page.click("text=Visit grid")
    grid = page.locator("#visit-grid")
    row = grid.locator("tr", has_text="101-042")
    cells = row.locator("td.cell")
    expect(cells).to_have_count(3)
    # Baseline window closed 60 days ago (overdue), Week 8 window is open now (due), Week 16 ahead.
    for i, status in enumerate(["overdue", "due", "upcoming"]):
        expect(cells.nth(i)).to_have_attribute("data-status", status)
    w8 = start + dt.timedelta(days=56)
    expect(cells.nth(1)).to_contain_text((w8 - dt.timedelta(days=7)).strftime("%d %b"))
    # Statuses are drawn in colour (waited for: under load the stylesheet can apply after the cells exist).
    for i, colour in enumerate([OVERDUE_RED, DUE_YELLOW, UPCOMING_GREY]):
        expect(cells.nth(i)).to_have_css("background-color", colour)
    expect(grid).not_to_contain_text("102-001")


def test_enrolment_errors_are_shown_and_nothing_is_created(page, world):
    browser_login(page, "coord_101")
    page.fill("#id_subject_code", "999-001")
    page.click("#enrol button[type=submit]")
    expect(page.locator("#enrol")).to_contain_text("does not match")
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
    expect(page.get_by_text("Timepoint W24 added")).to_be_visible()
    expect(page.locator("#schedule")).to_contain_text("Week 24")
    assert TimepointDefinition.objects.filter(trial=world.trial, code="W24", nominal_day=168).exists()

    # Add its imaging requirement from the timepoint page.
    page.locator("#schedule tr", has_text="W24").locator("text=Edit").click()
    page.select_option("#id_req-modality", "CT")
    page.fill("#id_req-body_region", "Chest/abdomen/pelvis")
    page.select_option("#id_req-contrast", "required")
    page.fill("#id_req-max_slice_thickness_mm", "5")
    page.click("text=Add requirement")
    expect(page.get_by_text("Imaging requirement added")).to_be_visible()
    tp = TimepointDefinition.objects.get(trial=world.trial, code="W24")
    assert tp.imaging_requirements.get().max_slice_thickness_mm == 5


def test_admin_invites_a_member_and_changes_a_role_with_a_reason(page, world):
    browser_login(page, "admin_a")
    page.click("text=Members")
    page.fill("#id_email", "new.reader@example.org")
    page.select_option("#id_role", "reader")
    page.click("#invite button[type=submit]")
    expect(page.get_by_text("new.reader is now Reader")).to_be_visible()

    page.locator("#members tr", has_text="sponsor_a").locator("text=Change role").click()
    page.select_option("#id_role-role", "auditor")
    # The reason is mandatory: the browser refuses to submit without it.
    expect(page.locator("#id_role-reason")).to_have_js_property("required", True)
    page.fill("#id_role-reason", "now monitoring")
    page.locator("form", has_text="Change role").locator("button").click()
    expect(page.get_by_text("Role of sponsor_a changed")).to_be_visible()


def test_a_trial_is_not_locked_by_two_quick_clicks(page, world):
    """Issue #17 item 2: the status form pre-selected the next status and took an empty reason."""
    from trials.models import Trial

    browser_login(page, "admin_a")
    page.goto("/t/TRIAL-A/settings/")
    button = page.locator("#trial-status button[type=submit]")
    button.click()
    button.click()
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/settings/$"))
    assert Trial.objects.get(pk=world.trial.pk).status == "active"

    page.select_option("#id_st-status", "locked")
    button.click()  # no reason yet: the browser asks for one
    assert Trial.objects.get(pk=world.trial.pk).status == "active"
    page.fill("#id_st-reason", "database lock")
    button.click()
    confirm = page.locator("#status-confirm")
    expect(confirm).to_contain_text("No more enrolments or image uploads")
    expect(confirm).to_contain_text("database lock")
    assert Trial.objects.get(pk=world.trial.pk).status == "active"
    confirm.get_by_role("button", name="I understand: change to Locked").click()
    expect(page.get_by_text("Trial status changed to Locked")).to_be_visible()
    assert Trial.objects.get(pk=world.trial.pk).status == "locked"


def test_a_coordinator_sees_the_lock_and_no_enrol_form(page, world):
    """Issue #17 item 13: on a locked trial the enrol form was shown and failed only on submit."""
    from trials.models import Trial

    Trial.objects.filter(pk=world.trial.pk).update(status="locked")
    browser_login(page, "coord_101")
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/participants/$"))
    expect(page.locator("#trial-status-banner")).to_contain_text("No more enrolments or image uploads")
    expect(page.locator("#enrol")).to_have_count(0)
    expect(page.locator("#enrol-refused")).to_contain_text("TRIAL-A is locked: no new participants can be enrolled.")
