"""Browser journey: QC fails a series and asks the site; the site re-uploads and answers; QC resolves and accepts."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from imaging.models import Query, Series, Submission
from tests.conftest import browser_login
from tests.imaging.qc_helpers import cap_requirement, qc_series
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f
from trials.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCEPTED_GREEN = "rgb(200, 236, 208)"  # --st-accepted in static/css/app.css
STUDY_UID = "1.2.826.0.1.3680043.8.498.4242"  # the site re-sends a reconstruction of the same study


def switch_user(page, username: str) -> None:
    # Leave the page first: a response still in flight (a thumbnail) would set the old session
    # cookie again after clear_cookies, and the login page would then redirect the old user home.
    page.goto("about:blank")
    page.context.clear_cookies()
    browser_login(page, username)


def test_qc_fails_a_series_the_site_reuploads_and_qc_accepts_the_visit(page, world, api):
    cap_requirement(world.timepoints[0])
    visit = f.visit(world.participant, "BL")
    site_api = api(world.coordinator)
    upload_all(site_api, visit.pk, qc_series(thickness=7.0, description="CHEST 7mm", series_number=3,
                                                   study_uid=STUDY_UID))
    thick = Series.objects.get(study__visit=visit)
    automatic = Query.objects.get(visit=visit, is_automatic=True)

    # The analyst starts from the queue on their home page.
    browser_login(page, "qc_a")
    page.goto("/t/TRIAL-A/")
    row = page.locator(f'#queue tr[data-visit="{visit.pk}"]')
    expect(row).to_contain_text("101-001")
    row.locator("a", has_text="Review").click()
    card = page.locator(f"#series-{thick.pk}")
    expect(card.locator('tr[data-param="Slice thickness"]')).to_have_class(re.compile(r"\bflag-blocking\b"))
    expect(card.locator(".thumbs img").nth(1)).to_be_attached()  # at least two thumbnails
    page.wait_for_function(f"Array.from(document.querySelectorAll('#series-{thick.pk} .thumbs img'))"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    expect(page.locator("#accept-visit")).to_be_disabled()

    # Fail the series with a reason, then ask the site for the thin reconstruction.
    prefix = f"s{thick.pk}"
    card.locator(f'input[name="{prefix}-status"][value="failed"]').check()
    page.select_option(f"#id_{prefix}-reason", "protocol_deviation")
    page.fill(f"#id_{prefix}-comment", "7 mm slices; please send the 2.5 mm reconstruction.")
    card.locator("button[type=submit]").click()
    expect(page.locator(f"#series-{thick.pk} .qc-status")).to_have_attribute("data-status", "failed")
    page.wait_for_load_state("load")  # the page's script has wired its buttons (the markup shows before it runs)
    page.locator(f"#series-{thick.pk} button.ask-site").click()
    # The button's script fills the query form.
    expect(page.locator("#id_q-series")).to_have_value(str(thick.pk))
    expect(page.locator("#id_q-message")).to_have_value("7 mm slices; please send the 2.5 mm reconstruction.")
    page.select_option("#id_q-category", "acquisition")
    page.fill("#id_q-subject", "Thin-slice reconstruction needed")
    with page.expect_navigation():  # the form posts, then the page comes back with the new query
        page.locator("#raise-form button[type=submit]").click()
    manual = Query.objects.get(visit=visit, is_automatic=False)
    assert manual.series == thick and manual.requests_reupload
    expect(page.locator(f'#visit-queries a[href="/t/TRIAL-A/queries/{manual.pk}/"]')).to_have_count(2)

    # The site sees both queries on its home page, re-uploads, and answers attaching the upload.
    switch_user(page, "coord_101")
    page.goto("/t/TRIAL-A/participants/")
    expect(page.locator("#queries-to-answer tr[data-query]")).to_have_count(2)
    upload_all(site_api, visit.pk, qc_series(thickness=2.5, description="CHEST 2.5mm", series_number=4, seed=7,
                                                   study_uid=STUDY_UID))
    reupload = Submission.objects.filter(visit=visit).order_by("-id").first()
    automatic.refresh_from_db()
    assert automatic.state == "answered"  # fixed by the re-upload: answered, never resolved automatically
    assert Query.objects.filter(visit=visit).count() == 2
    page.reload()
    expect(page.locator("#queries-to-answer tr[data-query]")).to_have_count(1)
    page.locator(f'#queries-to-answer a[href="/t/TRIAL-A/queries/{manual.pk}/"]').first.click()
    page.select_option("select[name=submission]", str(reupload.pk))
    page.fill("#id_message", "Thin reconstruction sent.")
    page.click("button[value=answer]")
    expect(page.locator("#query-state")).to_have_text("Answered")
    expect(page.locator("#thread")).to_contain_text(f"submission {reupload.pk}")
    expect(page.locator("button[value=resolve]")).to_have_count(0)  # a site cannot resolve

    # The analyst resolves both queries, passes the new series and accepts the visit.
    switch_user(page, "qc_a")
    page.goto("/t/TRIAL-A/queries/?state=answered")
    expect(page.locator("#queries tbody tr[data-query]")).to_have_count(2)
    for query in (manual, automatic):
        page.goto(f"/t/TRIAL-A/queries/{query.pk}/")
        page.fill("#id_message", "Received the 2.5 mm series, thank you.")
        page.click("button[value=resolve]")
        expect(page.locator("#query-state")).to_have_text("Resolved")
    thin = Series.objects.get(study__visit=visit, series_number=4)
    page.goto(f"/t/TRIAL-A/qc/visits/{visit.pk}/")
    card = page.locator(f"#series-{thin.pk}")
    card.locator(f'input[name="s{thin.pk}-status"][value="passed"]').check()
    page.select_option(f"#id_s{thin.pk}-reason", "meets_protocol")
    card.locator("button[type=submit]").click()
    expect(page.locator("#acceptance-ready")).to_be_visible()
    page.fill("#id_a-comment", "Complete after re-upload.")
    page.click("#accept-visit")
    expect(page.locator("#acceptance")).to_contain_text("QC accepted this visit")
    assert Visit.objects.get(pk=visit.pk).state == "accepted"

    # Accepted visits change colour on the visit grid.
    page.goto("/t/TRIAL-A/visits/")
    cell = page.locator(f'#visit-grid td.cell:has(a.cell-link[href="/t/TRIAL-A/visits/{visit.pk}/"])')
    expect(cell).to_have_attribute("data-status", "accepted")
    expect(cell).to_have_css("background-color", ACCEPTED_GREEN)
    expect(cell).to_contain_text("Accepted")
