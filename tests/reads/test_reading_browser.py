"""Browser journey: a reader reads a baseline and its follow-up on the task page (reads.md "Reading a timepoint").

Calipers are drawn with the mouse in the viewer; everything in the reading panel is driven with the
keyboard (buttons activated with Enter, selects chosen, text typed). The page never shows the
subject code or the site.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from imaging.models import Measurement, Series
from reads.models import Lesion, ReadTask
from tests.conftest import browser_login
from tests.reads.factories import imaged_case
from tests.reads.test_reads_browser import press

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"
SPACING_MM = 0.7  # imaged_case's series: 128 x 128 pixels of 0.7 mm


def wait_loaded(page, port: int = 0) -> None:
    page.wait_for_function(f"document.querySelector('.vw-port[data-port=\"{port}\"]')?.dataset.loaded")


def client_xy(page, x: float, y: float, port: int = 0) -> tuple[float, float]:
    return tuple(page.evaluate(f"window.ictmsViewer.viewer.ports[{port}].imageToClient({x}, {y})"))


def draw_caliper(page, port: int, x1: float, x2: float, y: float = 60) -> Measurement:
    """Drag a caliper across the image of viewport `port` and return it once saved."""
    before = set(Measurement.objects.values_list("pk", flat=True))
    press(page, page.locator("[data-tool=line]"), "Enter")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/measurements/")):
        page.mouse.move(*client_xy(page, x1, y, port))
        page.mouse.down()
        page.mouse.move(*client_xy(page, x2, y, port), steps=6)
        page.mouse.up()
    return Measurement.objects.exclude(pk__in=before).get()


def wait_reading(page) -> None:
    page.wait_for_function("window.ictmsReading && window.ictmsReading.state.detail !== null")


def body_text(page) -> str:
    return page.locator("body").inner_text() + page.title()


def sign(page, password: str) -> None:
    press(page, page.locator("#sign-open"), "Enter")
    dialog = page.locator("#sign-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("I am the author of this assessment and approve it")
    expect(page.locator("#sign-password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def test_the_reader_reads_the_baseline_and_week_8_and_signs_both(page, world):
    case = imaged_case(world, ("BL", "W8"))
    tasks = {t.visit.timepoint.code: t for t in ReadTask.objects.filter(assignment__case=case,
                                                                       assignment__reader=world.reader)}
    bl_series = Series.objects.get(study__visit=tasks["BL"].visit)
    w8_series = Series.objects.get(study__visit=tasks["W8"].visit)
    texts: list[str] = []

    # --- Baseline: opening the ready task starts it; the measurement tools are on.
    browser_login(page, "reader_a")
    page.goto(f"/t/TRIAL-A/reads/tasks/{tasks['BL'].pk}/")
    wait_loaded(page)
    wait_reading(page)
    expect(page.locator("#reading-state")).to_have_text("In progress")
    expect(page.locator("[data-tool=line]")).to_be_enabled()
    expect(page.locator("#r-missing")).to_contain_text("Record at least one target or non-target lesion.")
    page.wait_for_function("document.querySelector('#lesion-organ').options.length > 5")  # from /api/read-organs/

    # A 40-pixel caliper (28 mm) becomes target T1 in the lung.
    first = draw_caliper(page, 0, 30, 70)
    value = f"{float(first.length_mm):.1f} mm"
    expect(page.locator("#current-measurement")).to_contain_text(f"Selected measurement: {value} (caliper), not used yet.")
    page.select_option("#lesion-organ", "lung")
    page.locator("#lesion-location").focus()
    page.keyboard.type("right upper lobe")
    press(page, page.locator("#add-lesion button[type=submit]"), "Enter")
    t1 = page.locator('#lesion-list li[data-label="T1"]')
    expect(t1).to_contain_text("Target · lung · right upper lobe")
    expect(t1.locator(".rd-now")).to_contain_text(f"Baseline: {value}")
    expect(page.locator("#lesion-status")).to_have_text("T1 added.")
    expect(page.locator("#r-sum")).to_have_text(value)
    expect(page.locator("#current-measurement")).to_contain_text("used by T1")

    # A 7 mm caliper is refused as a target, with the engine's reason beside the form.
    draw_caliper(page, 0, 30, 40, y=90)
    page.select_option("#lesion-organ", "liver")
    press(page, page.locator("#add-lesion button[type=submit]"), "Enter")
    expect(page.locator("#add-lesion-error")).to_contain_text("T2 cannot be a target")
    expect(page.locator("#lesion-list li[data-lesion]")).to_have_count(1)

    # The liver lesion becomes non-target NT1 instead (no measurement).
    page.select_option("#lesion-kind", "non_target")
    expect(page.locator("#lesion-use")).to_be_disabled()
    press(page, page.locator("#add-lesion button[type=submit]"), "Enter")
    expect(page.locator('#lesion-list li[data-label="NT1"]')).to_contain_text("Non-target · liver")
    expect(page.locator("#add-lesion-error")).to_have_text("")
    expect(page.locator("#r-complete")).to_have_text("Complete: ready to sign.")
    expect(page.locator("#r-explanation")).to_contain_text(f"sum of diameters {float(first.length_mm):g} mm")
    texts.append(body_text(page))

    # Signing: a wrong password is refused in the dialog, the right one locks the timepoint.
    sign(page, "not-my-password")
    expect(page.locator("#sign-error")).to_contain_text("Wrong password")
    expect(page.locator("#sign-password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    wait_reading(page)
    signature = page.locator("#signature")
    expect(signature).to_be_focused()
    expect(signature).to_contain_text(world.reader.get_full_name() or "reader_a")
    expect(signature).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    expect(signature).to_contain_text("“I am the author of this assessment and approve it”")
    expect(page.locator("#reading-state")).to_have_text("Signed")
    for control in ("#add-lesion", "#sign-open", "#lesion-list [data-use]", "#lesion-list .rd-remove"):
        expect(page.locator(control)).to_have_count(0)
    expect(page.locator("[data-tool=line]")).to_be_disabled()
    expect(page.locator('#lesion-list li[data-label="T1"]')).to_contain_text(value)
    texts.append(body_text(page))
    tasks["BL"].refresh_from_db()
    assert tasks["BL"].state == "signed"

    # --- Week 8 is ready now: "Next timepoint" opens it beside the baseline.
    press(page, page.locator("#next-timepoint"), "Enter")
    expect(page).to_have_url(re.compile(rf"/t/TRIAL-A/reads/tasks/{tasks['W8'].pk}/$"))
    wait_loaded(page, 0)
    wait_loaded(page, 1)
    wait_reading(page)
    expect(page.locator('.vw-port[data-port="1"]')).to_have_attribute("data-series", str(w8_series.pk))
    t1 = page.locator('#lesion-list li[data-label="T1"]')
    expect(t1.locator(".rd-prior")).to_contain_text(f"Baseline: {value}")
    expect(t1.locator(".rd-now")).to_contain_text("Week 8: not recorded yet")
    expect(page.locator("#r-missing")).to_contain_text("New lesions: answer the question")
    expect(page.locator("#r-overall")).to_have_text("Pending")

    # "Go to" shows the baseline image T1 was measured on, in the compare viewport.
    left = page.locator('.vw-port[data-port="0"]')
    left.locator(".vw-stage").focus()
    page.keyboard.press("Home")
    expect(left).to_have_attribute("data-index", "0")
    press(page, t1.get_by_role("button", name="Go to T1 at Baseline"), "Enter")
    expect(left).to_have_attribute("data-series", str(bl_series.pk))
    index = page.evaluate(f"window.ictmsViewer.viewer.ports[0].stack.findIndex(it => it.instance.id === {first.instance_id})")
    expect(left).to_have_attribute("data-index", str(index))
    assert page.evaluate("window.ictmsViewer.viewer.ports[0].selected") == first.pk

    # T1 shrank: a 27-pixel caliper on the week 8 image is recorded for it.
    second = draw_caliper(page, 1, 30, 57)
    now = f"{float(second.length_mm):.1f} mm"
    expect(page.locator("#current-measurement")).to_contain_text(f"Selected measurement: {now}")
    press(page, t1.get_by_role("button", name="Use the selected measurement for T1"), "Enter")
    expect(t1.locator(".rd-now")).to_contain_text(f"Week 8: {now}")
    expect(t1.get_by_role("button", name="Use the selected measurement for T1")).to_be_focused()

    # NT1 is present; there are no new lesions: the live result is a partial response, explained.
    nt1 = page.locator('#lesion-list li[data-label="NT1"]')
    nt1.get_by_label("NT1 status").select_option("present")
    expect(nt1.locator(".rd-now")).to_contain_text("Week 8: Present")
    press(page, page.locator("#no-new-lesions"), "Enter")
    expect(page.locator("#new-lesions-answer")).to_have_text("Answered: no new lesions.")
    expect(page.locator("#undo-no-new-lesions")).to_be_focused()
    expect(page.locator("#r-sum")).to_have_text(now)
    expect(page.locator("#r-baseline-sum")).to_have_text(value)
    change = round((float(second.length_mm) - float(first.length_mm)) / float(first.length_mm) * 100, 1)
    expect(page.locator("#r-change-baseline")).to_have_text(f"−{abs(change):.1f} %")
    expect(page.locator("#r-change-nadir")).to_have_text(f"−{abs(change):.1f} %")
    expect(page.locator("#r-target")).to_have_text("PR (partial response)")
    expect(page.locator("#r-non-target")).to_have_text("Non-CR/non-PD")
    expect(page.locator("#r-new")).to_have_text("None")
    expect(page.locator("#r-overall")).to_have_text("PR (partial response)")
    expect(page.locator("#r-best")).to_contain_text(re.compile(r"PR|SD"))
    expect(page.locator("#r-explanation")).to_contain_text(re.compile(r"\S"))
    expect(page.locator("#r-complete")).to_be_visible()
    assert page.locator("#reading-result").get_attribute("aria-live") == "polite"
    texts.append(body_text(page))

    # Cancel closes the dialog without signing; then the reader signs with the password.
    press(page, page.locator("#sign-open"), "Enter")
    press(page, page.locator("#sign-cancel"), "Enter")
    expect(page.locator("#sign-dialog")).to_be_hidden()
    expect(page.locator("#sign-open")).to_be_focused()
    sign(page, PASSWORD)
    page.wait_for_url(re.compile(rf"/tasks/{tasks['W8'].pk}/$"))
    wait_reading(page)
    expect(page.locator("#signature")).to_contain_text("UTC")
    expect(page.locator("#reading-state")).to_have_text("Signed")
    expect(page.locator("#next-timepoint-none")).to_have_text("Back to the worklist")
    expect(page.locator("#r-overall")).to_have_text("PR (partial response)")
    texts.append(body_text(page))
    tasks["W8"].refresh_from_db()
    assert tasks["W8"].state == "signed" and tasks["W8"].response["overall"] == "PR"
    assert Lesion.objects.filter(assignment=tasks["W8"].assignment).count() == 2

    for text in texts:
        for hidden in (world.participant.subject_code, world.site.name):
            assert hidden not in text, hidden


def test_signing_an_incomplete_follow_up_lists_what_is_missing_in_the_dialog(page, world):
    case = imaged_case(world, ("BL", "W8"))
    tasks = {t.visit.timepoint.code: t for t in ReadTask.objects.filter(assignment__case=case,
                                                                       assignment__reader=world.reader)}
    from reads import reading
    from tests.reads.factories import measure

    bl = tasks["BL"]
    reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung",
                       measurement=measure(world.reader, bl.visit, 30))
    reading.read_task_sign(actor=world.reader, task=bl, password=PASSWORD)
    browser_login(page, "reader_a")
    page.goto(f"/t/TRIAL-A/reads/tasks/{tasks['W8'].pk}/")
    wait_reading(page)
    t1 = page.locator('#lesion-list li[data-label="T1"]')
    press(page, t1.get_by_role("button", name="T1 not evaluable…"), "Enter")
    reason = t1.get_by_label("Why T1 is not evaluable")
    expect(reason).to_be_focused()
    page.keyboard.type("Motion artefact")
    page.keyboard.press("Enter")
    expect(t1.locator(".rd-now")).to_contain_text("Not evaluable: Motion artefact")
    sign(page, PASSWORD)
    expect(page.locator("#sign-error")).to_contain_text("not complete")
    expect(page.locator("#sign-missing")).to_contain_text("New lesions: answer the question")
    expect(page.locator("#sign-dialog")).to_be_visible()
    tasks["W8"].refresh_from_db()
    assert tasks["W8"].state == "in_progress"


def test_the_reader_asks_qc_about_image_quality_from_the_task(page, world):
    from reads.models import QualityQuery
    from reads.quality import quality_query_answer

    case = imaged_case(world, ("BL", "W8"))
    task = ReadTask.objects.get(assignment__case=case, assignment__reader=world.reader, sequence=0)
    browser_login(page, "reader_a")
    page.goto(f"/t/TRIAL-A/reads/tasks/{task.pk}/")
    wait_reading(page)
    press(page, page.locator("#quality-query summary"), "Enter")
    page.locator("#quality-message").focus()
    page.keyboard.type("Only the arterial phase was sent: the liver cannot be assessed.")
    press(page, page.locator("#quality-form button[type=submit]"), "Enter")
    expect(page.locator("#quality-list")).to_contain_text("Waiting for QC: Only the arterial phase was sent")
    query = QualityQuery.objects.get(task=task)
    quality_query_answer(actor=world.qc, query=query, message="The portal venous series was re-sent as series 4.")
    page.reload()
    wait_reading(page)
    expect(page.locator("#quality-list")).to_contain_text("QC answered")
    expect(page.locator("#quality-list")).to_contain_text("series 4")
    assert "qc_a" not in body_text(page)
