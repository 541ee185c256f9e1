"""The viewer in a real browser: scrolling, presets, calipers, bidirectional measurements, compare mode."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from imaging.models import Measurement
from tests.conftest import browser_login
from tests.imaging import render_samples as samples
from tests.imaging.factories import make_series
from tests.trials.factories import visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DISK_SPACING_MM = 0.5
DISK_DIAMETER_MM = 40.0  # 80 pixels across, centred at (63.5, 63.5) in a 128 x 128 image
DISK_LEFT, DISK_RIGHT, DISK_CENTRE = 23.5, 103.5, 63.5


def disk_series(v):
    return make_series(v, datasets=[samples.disk_phantom(DISK_SPACING_MM, DISK_DIAMETER_MM)],
                       description="DISK PHANTOM", series_number=9)


def wait_loaded(page, port: int = 0) -> None:
    page.wait_for_function(f"document.querySelector('.vw-port[data-port=\"{port}\"]')?.dataset.loaded")


def client_xy(page, x: float, y: float, port: int = 0) -> tuple[float, float]:
    return tuple(page.evaluate(f"window.ictmsViewer.viewer.ports[{port}].imageToClient({x}, {y})"))


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def wait_values(page, selector: str, expected: float, tolerance: float, n: int) -> None:
    """Wait until the elements at `selector` show `n` values in mm, each within `tolerance` of `expected`."""
    page.wait_for_function(
        "([sel, expected, tol, n]) => { const values = Array.from(document.querySelectorAll(sel))"
        ".flatMap(el => Array.from(el.textContent.matchAll(/([\\d.]+) mm/g), m => parseFloat(m[1])));"
        " return values.length === n && values.every(v => Math.abs(v - expected) <= tol); }",
        arg=[selector, expected, tolerance, n])


def mm_values(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"([\d.]+) mm", text)]


def test_qc_scrolls_changes_the_preset_measures_and_sees_the_caliper_after_reload(page, world):
    v = visit(world.participant, "BL")
    make_series(v, n=20, rows=96, columns=96, series_number=1)
    disk = disk_series(v)
    browser_login(page, "qc_a")
    page.goto(f"/t/TRIAL-A/viewer/visits/{v.pk}/")
    wait_loaded(page)
    port = page.locator('.vw-port[data-port="0"]')
    expect(port).to_have_attribute("data-count", "20")
    expect(port).to_have_attribute("data-index", "9")
    expect(page.locator(".vw-series-item")).to_have_count(2)

    # Scroll with the keyboard and the wheel; the overlay follows.
    page.locator(".vw-stage").first.click()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    stage_box = page.locator(".vw-stage").first.bounding_box()
    page.mouse.move(stage_box["x"] + 40, stage_box["y"] + 40)
    page.mouse.wheel(0, 120)
    page.wait_for_function("document.querySelector('.vw-port').dataset.index === '13'")
    wait_loaded(page)
    expect(page.locator(".vw-overlay.bl").first).to_contain_text("Slice 14/20")

    # Once the series is prefetched, scrolling through all of it never asks the server.
    page.wait_for_function("window.ictmsViewer.cache.stats.fetched >= 20", timeout=30000)
    fetched = page.evaluate("window.ictmsViewer.cache.stats.fetched")
    misses = page.evaluate("window.ictmsViewer.cache.stats.misses")
    page.keyboard.press("Home")
    for _ in range(19):
        page.keyboard.press("ArrowDown")
    page.wait_for_function("document.querySelector('.vw-port').dataset.index === '19'")
    assert page.evaluate("window.ictmsViewer.cache.stats.fetched") == fetched
    assert page.evaluate("window.ictmsViewer.cache.stats.misses") == misses

    # A preset is rendered by the server at that window.
    page.select_option("#preset", "lung")
    page.wait_for_function("document.querySelector('.vw-port').dataset.loaded.includes('preset=lung')")
    expect(port).to_have_attribute("data-window", "-600,1500")
    expect(page.locator(".vw-overlay.br").first).to_contain_text("W 1500 L -600")

    # Measure the 40 mm disk with the caliper.
    page.click(f'.vw-series-item[data-series="{disk.pk}"]')
    page.wait_for_function(f"document.querySelector('.vw-port').dataset.series === '{disk.pk}' "
                           "&& document.querySelector('.vw-port').dataset.loaded")
    page.click("[data-tool=line]")
    drag(page, client_xy(page, DISK_LEFT, DISK_CENTRE), client_xy(page, DISK_RIGHT, DISK_CENTRE))
    item = page.locator("#measurement-list li[data-measurement]")
    expect(item.locator(".m-value")).to_have_text(re.compile(r"[\d.]+ mm"))
    shown = mm_values(item.locator(".m-value").inner_text())[0]
    assert abs(shown - DISK_DIAMETER_MM) <= DISK_SPACING_MM  # within one pixel
    saved = Measurement.objects.get()
    assert saved.instance.series_id == disk.pk and saved.kind == "line"
    assert abs(float(saved.length_mm) - DISK_DIAMETER_MM) <= DISK_SPACING_MM
    assert saved.spacing_source == "PixelSpacing"

    # Reopened, the measurement is listed and drawn again.
    page.reload()
    wait_loaded(page)
    page.click(f'.vw-series-item[data-series="{disk.pk}"]')
    page.wait_for_function(f"document.querySelector('.vw-port').dataset.series === '{disk.pk}'")
    item = page.locator(f'#measurement-list li[data-measurement="{saved.pk}"]')
    expect(item.locator(".m-value")).to_have_text(re.compile(r"[\d.]+ mm"))
    assert mm_values(item.locator(".m-value").inner_text())[0] == pytest.approx(float(saved.length_mm), abs=0.05)
    page.wait_for_function("window.ictmsViewer.viewer.ports[0].visibleMeasurements().length > 0")
    drawn = page.evaluate("window.ictmsViewer.viewer.ports[0].visibleMeasurements().map(m => m.id)")
    assert drawn == [saved.pk]

    # Moving an end re-measures on the server; deleting removes it from the list.
    drag(page, client_xy(page, DISK_RIGHT, DISK_CENTRE), client_xy(page, DISK_CENTRE, DISK_CENTRE))
    page.wait_for_function(f"!document.querySelector('#measurement-list li[data-measurement=\"{saved.pk}\"] .m-value')"
                           ".textContent.startsWith('40')")
    saved.refresh_from_db()
    assert abs(float(saved.length_mm) - DISK_DIAMETER_MM / 2) <= DISK_SPACING_MM
    with page.expect_response(lambda r: r.request.method == "DELETE" and f"/api/measurements/{saved.pk}/" in r.url):
        item.locator(".m-delete").click()
    expect(item).to_have_count(0)
    saved.refresh_from_db()
    assert saved.is_deleted


def test_the_bidirectional_tool_measures_long_and_perpendicular_short_axis(page, world):
    v = visit(world.participant, "BL")
    disk_series(v)
    browser_login(page, "qc_a")
    page.goto(f"/t/TRIAL-A/viewer/visits/{v.pk}/")
    wait_loaded(page)
    page.click("[data-tool=bidi]")
    drag(page, client_xy(page, DISK_LEFT, DISK_CENTRE), client_xy(page, DISK_RIGHT, DISK_CENTRE))
    page.locator("#measurement-list li[data-measurement]").wait_for()
    first = Measurement.objects.get()
    assert first.kind == "bidirectional"
    # The short axis starts at half the long one, crossing it in the middle.
    assert float(first.short_axis_mm) == pytest.approx(float(first.length_mm) / 2, abs=0.05)

    # Pull both ends of the short axis to the disk's edge (its ends lie above and below the centre).
    (x3, y3), (x4, y4) = first.points[2], first.points[3]
    below, above = ((x3, y3), (x4, y4)) if y3 > y4 else ((x4, y4), (x3, y3))
    drag(page, client_xy(page, *below), client_xy(page, DISK_CENTRE, DISK_RIGHT))
    page.wait_for_function(f"window.ictmsViewer.viewer.ports[0].measurements[0].updated_at !== '{first.updated_at.isoformat().replace('+00:00', 'Z')}'")
    page.wait_for_timeout(200)
    drag(page, client_xy(page, *above), client_xy(page, DISK_CENTRE, DISK_LEFT))
    page.wait_for_function(
        "(() => { const m = window.ictmsViewer.viewer.ports[0].measurements[0];"
        f" return Math.abs(m.short_axis_mm - {DISK_DIAMETER_MM}) <= {DISK_SPACING_MM}; }})()")
    m = Measurement.objects.get()
    assert abs(float(m.length_mm) - DISK_DIAMETER_MM) <= DISK_SPACING_MM
    assert abs(float(m.short_axis_mm) - DISK_DIAMETER_MM) <= DISK_SPACING_MM
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = m.points
    assert abs((bx - ax) * (dx - cx) + (by - ay) * (dy - cy)) < 1e-3 * 80 * 80  # perpendicular
    wait_values(page, "#measurement-list .m-value", DISK_DIAMETER_MM, DISK_SPACING_MM, 2)


def test_compare_mode_shows_baseline_and_follow_up_with_synced_scrolling(page, world):
    baseline = make_series(visit(world.participant, "BL"), n=20, rows=64, columns=64, slice_spacing=2.5,
                           description="BASELINE")
    follow_up = make_series(visit(world.participant, "W8"), n=10, rows=64, columns=64, slice_spacing=5.0,
                            description="FOLLOW UP")
    browser_login(page, "admin_a")
    page.goto(f"/t/TRIAL-A/viewer/participants/{world.participant.pk}/")
    wait_loaded(page, 0)
    wait_loaded(page, 1)
    left, right = page.locator('.vw-port[data-port="0"]'), page.locator('.vw-port[data-port="1"]')
    expect(left).to_have_attribute("data-series", str(baseline.pk))
    expect(right).to_have_attribute("data-series", str(follow_up.pk))
    expect(left.locator(".vw-overlay.tl")).to_contain_text("BL Baseline")
    expect(right.locator(".vw-overlay.tl")).to_contain_text("W8 Week 8")
    expect(left).to_have_attribute("data-index", "9")  # z 22.5
    expect(right).to_have_attribute("data-index", "4")  # z 20

    # Without sync, scrolling one side leaves the other alone.
    left.locator(".vw-stage").click()
    page.keyboard.press("ArrowDown")
    page.wait_for_function("document.querySelector('.vw-port[data-port=\"0\"]').dataset.index === '10'")
    expect(right).to_have_attribute("data-index", "4")

    # With sync, the right side follows by slice position: 4 slices of 2.5 mm on the left are
    # 10 mm, two 5 mm slices on the right.
    page.check("#sync")
    left.locator(".vw-stage").click()
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    page.wait_for_function("document.querySelector('.vw-port[data-port=\"0\"]').dataset.index === '14'")
    page.wait_for_function("document.querySelector('.vw-port[data-port=\"1\"]').dataset.index === '6'")

    # Turning compare off leaves one viewport.
    page.uncheck("#compare")
    expect(page.locator(".vw-port")).to_have_count(1)
