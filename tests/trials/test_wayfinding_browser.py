"""How wayfinding looks in Chromium: the current page stands out in the navigation; the grid's status reads as a link."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_current_page_stands_out_in_the_navigation(page, world):
    browser_login(page, "admin_a")
    page.goto("/t/TRIAL-A/schedule/")
    nav = page.locator("nav.mainnav")
    current = nav.locator('a[aria-current="page"]')
    expect(current).to_have_count(1)
    expect(current).to_have_text("Schedule")
    other = nav.get_by_role("link", name="Sites", exact=True)
    style = "el => [getComputedStyle(el).fontWeight, getComputedStyle(el).borderBottomStyle]"
    assert current.evaluate(style) != other.evaluate(style)
    assert current.evaluate(style)[1] == "solid"


def test_the_grid_status_reads_as_a_link_and_the_coordinator_can_submit_images_from_a_cell(page, world):
    from tests.trials import factories as f

    visit = f.visit(world.participant, "W8")
    browser_login(page, "coord_101")
    page.goto("/t/TRIAL-A/visits/")
    link = f'a.cell-link[href="/t/TRIAL-A/visits/{visit.pk}/"]'
    expect(page.locator(f"#visit-grid {link}")).to_have_css("text-decoration-line", "underline")
    cell = page.locator("#visit-grid td.cell", has=page.locator(link))
    cell.get_by_role("link", name="Submit images").click()
    expect(page).to_have_url(f"/t/TRIAL-A/visits/{visit.pk}/submit/")
    expect(page.locator("h1")).to_contain_text("Submit images")
    # The scan date is typed ISO, whatever the browser's locale.
    expect(page.locator("#id_scan_date")).to_have_attribute("type", "text")
    expect(page.locator("#id_scan_date")).to_have_attribute("placeholder", "YYYY-MM-DD")
