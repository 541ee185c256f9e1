"""Browser journey: two readers disagree; the adjudicator opens the round from the adjudications list, sees
both reads with the difference marked, selects a read, gives a reason and rationale and signs; the
admin's results page then shows the timepoint as adjudicated.

Driven with the keyboard: links and buttons activated with Enter, the radio chosen with Space, the
reason with the arrow keys. The adjudicator's pages never show the subject code, the site or a reader.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from reads.models import Adjudication
from tests.conftest import browser_login
from tests.reads.factories import imaged_case
from tests.reads.test_adjudication import _read, pd_slot
from tests.trials import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def press(page, locator, key: str) -> None:
    locator.focus()
    expect(locator).to_be_focused()
    page.keyboard.press(key)


def test_the_adjudicator_decides_and_the_admin_sees_the_adjudicated_result(page, world):
    case = imaged_case(world, ("BL", "W8"))
    _read(world, case, world.reader, 20)  # PR
    _read(world, case, world.reader2, 41, new="unequivocal")  # PD
    adjudication = Adjudication.objects.get(case=case)
    slot = pd_slot(world, case)

    browser_login(page, "adjudicator_a")
    press(page, page.locator("nav.mainnav").get_by_role("link", name="Adjudications"), "Enter")
    expect(page).to_have_url(re.compile(r"/t/TRIAL-A/reads/adjudications/$"))
    row = page.locator(f'tr[data-adjudication="{adjudication.pk}"]')
    expect(row).to_contain_text("Best overall response differs")
    press(page, row.get_by_role("link", name=f"Case {case.code}"), "Enter")
    expect(page).to_have_url(re.compile(rf"/reads/adjudications/{adjudication.pk}/$"))

    for reader in (1, 2):
        expect(page.get_by_role("heading", name=f"Reader {reader}", exact=True)).to_be_visible()
        differs = page.locator(f'#reader-{reader} tr[data-differs="true"]')
        expect(differs).to_have_count(1)
        expect(differs).to_contain_text("differs")
    expect(page.locator(f"#reader-{slot} tr[data-differs] [data-field=overall]")).to_contain_text("PD")
    expect(page.locator(f"#reader-{3 - slot} tr[data-differs] [data-field=overall]")).to_contain_text("PR")
    body = page.locator("main").inner_text()
    for hidden in ("101-001", "reader_a", "reader_b"):
        assert hidden not in body

    radio = page.get_by_role("radio", name=f"Reader {slot}")
    press(page, radio, "Space")
    expect(radio).to_be_checked()
    reason = page.get_by_label("Reason")
    reason.focus()
    reason.select_option("new_lesion_call")  # what the arrow keys choose in a native select
    expect(reason).to_have_value("new_lesion_call")
    page.get_by_label("Rationale").fill("The liver lesion is new and unequivocal.")
    expect(page.locator("#meaning")).to_contain_text("I am the adjudicator of this case and approve this decision")

    page.get_by_label("Password").fill("wrong")
    press(page, page.get_by_role("button", name="Sign decision"), "Enter")
    expect(page.get_by_text("Wrong password: the decision is not signed.")).to_be_visible()
    assert Adjudication.objects.get(pk=adjudication.pk).state == "open"

    expect(page.get_by_role("radio", name=f"Reader {slot}")).to_be_checked()  # kept on the form
    page.get_by_label("Password").fill(f.PASSWORD)
    press(page, page.get_by_role("button", name="Sign decision"), "Enter")
    expect(page.get_by_text(f"Reader {slot}'s read stands")).to_be_visible()
    expect(page.locator("#decision #selected")).to_have_text(f"Reader {slot}")
    expect(page.locator("#decision #signature")).to_contain_text("UTC")
    assert Adjudication.objects.get(pk=adjudication.pk).state == "decided"

    page.goto("about:blank")
    page.context.clear_cookies()
    browser_login(page, "admin_a")
    press(page, page.locator("nav.mainnav").get_by_role("link", name="Read results"), "Enter")
    row = page.locator('#results tr[data-subject="101-001"][data-timepoint="W8"]')
    expect(row).to_have_attribute("data-source", "adjudication")
    expect(row.locator(".source")).to_contain_text(f"Adjudicated (Reader {slot})")
    expect(row).to_contain_text("PD")
