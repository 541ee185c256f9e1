"""Charts in Chromium: each status bar of the progress chart has its status's colour (#17 item 10)."""
from __future__ import annotations

import pytest

from tests.conftest import browser_login
from tests.imaging.qc_page_helpers import received
from tests.trials import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_status_bars_have_their_status_colour_and_site_bars_the_accent(page, world):
    received(f.visit(world.participant, "BL"))
    received(f.visit(world.other_participant, "BL"), state="accepted")
    f.visit(world.participant, "W8")
    browser_login(page, "auditor_a")
    page.goto("/t/TRIAL-A/")
    bars = page.locator("table.bars .bar[class*='status-']")
    assert bars.count() >= 3
    colours = bars.evaluate_all("els => els.map(el => [el.className, getComputedStyle(el).backgroundColor])")
    by_status = dict(colours)
    assert len(set(by_status.values())) == len(by_status), by_status  # one colour per status, not all the accent
    # Each bar matches its own status label's swatch.
    for name, colour in colours:
        status = next(c for c in name.split() if c.startswith("status-"))
        swatch = page.locator(f"table.bars th .status.{status}").first
        assert swatch.evaluate("el => getComputedStyle(el).backgroundColor") == colour
    plain = page.locator("table.bars .bar:not([class*='status-'])").first
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent')")
    assert accent.strip() and plain.evaluate("el => getComputedStyle(el).backgroundColor") not in by_status.values()
