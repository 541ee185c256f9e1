"""Browser journey: the admin sets a double read; QC accepts a baseline; the reader opens it from the worklist.

Driven with the keyboard where a person would: checkboxes toggled with Space, buttons and links
activated with Enter. The reader's pages never show the subject code or the site.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from reads.models import ReadCase, ReadDesign, ReadTask
from tests.conftest import browser_login
from tests.imaging.factories import make_series
from tests.reads.factories import accept, read_pool
from tests.trials import factories as f
from trials.choices import VisitState
from trials.services import visit_transition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def switch_user(page, username: str) -> None:
    page.goto("about:blank")  # nothing in flight re-sets the old session cookie
    page.context.clear_cookies()
    browser_login(page, username)


def press(page, locator, key: str) -> None:
    locator.focus()
    expect(locator).to_be_focused()
    page.keyboard.press(key)


def test_admin_sets_a_double_read_and_the_reader_opens_the_baseline_from_the_worklist(page, world):
    read_pool(world)  # reader_b

    # The admin opens Read design from the navigation and sets a double read with both readers.
    browser_login(page, "admin_a")
    press(page, page.locator("nav.mainnav").get_by_role("link", name="Read design"), "Enter")
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/reads/design/$"))
    expect(page.get_by_role("radio", name=re.compile("Double read"))).to_be_checked()
    for name in ("reader_a", "reader_b"):
        box = page.get_by_role("checkbox", name=re.compile(rf"^{name} "))
        press(page, box, "Space")
        expect(box).to_be_checked()
    press(page, page.get_by_role("checkbox", name=re.compile(r"^adjudicator_a ")), "Space")
    expect(page.get_by_role("checkbox", name=re.compile("Best overall response differs"))).to_be_checked()
    press(page, page.get_by_role("button", name="Save read design"), "Enter")
    expect(page.get_by_text("Read design saved (version 1).")).to_be_visible()
    design = ReadDesign.objects.get(trial=world.trial)
    assert design.paradigm == "double"
    assert sorted(u.username for u in design.readers.all()) == ["reader_a", "reader_b"]
    assert [u.username for u in design.adjudicators.all()] == ["adjudicator_a"]

    # The site's baseline arrives with a real stored series, and QC accepts it.
    baseline = f.visit(world.participant, "BL")
    baseline = visit_transition(actor=None, visit=baseline, state=VisitState.RECEIVED,
                                scan_date=dt.date.today() - dt.timedelta(days=3))
    series = make_series(baseline, n=4, description="CHEST AXIAL")
    accept(baseline, actor=world.qc)
    case = ReadCase.objects.get(participant=world.participant)
    task = ReadTask.objects.get(assignment__case=case, assignment__reader=world.reader, sequence=0)
    total = ReadTask.objects.filter(assignment__reader=world.reader).count()

    # The reader lands on the worklist: the case by its code, their progress, and Next.
    switch_user(page, "reader_a")
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/reads/worklist/$"))
    expect(page.locator(f'section[data-case="{case.code}"]')).to_contain_text(f"Case {case.code}")
    expect(page.locator("#progress")).to_have_text(f"0 of {total} timepoints signed")
    worklist_text = page.locator("body").inner_text()
    press(page, page.locator("#next"), "Enter")

    # The viewer opens on the baseline's series, titled by the case code and the timepoint label.
    expect(page).to_have_url(re.compile(rf"/t/TRIAL-A/reads/tasks/{task.pk}/$"))
    expect(page.locator(".vw-title")).to_contain_text(case.code)
    expect(page.locator(".vw-title small")).to_contain_text("Baseline")
    page.wait_for_function("document.querySelector('.vw-port[data-port=\"0\"]')?.dataset.loaded")
    expect(page.locator(".vw-series-item")).to_have_count(1)
    expect(page.locator('.vw-port[data-port="0"]')).to_have_attribute("data-series", str(series.pk))
    expect(page.locator('.vw-port[data-port="0"]')).to_have_attribute("data-count", "4")
    expect(page.locator(".vw-overlay.tl").first).to_contain_text("Baseline")
    viewer_text = page.locator("body").inner_text()

    for text in (worklist_text, viewer_text, page.title()):
        for hidden in (world.participant.subject_code, world.site.name, world.other_participant.subject_code):
            assert hidden not in text, hidden
