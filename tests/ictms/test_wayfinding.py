"""Wayfinding: the navigation marks the current page, shows each role what it may open, and dates are ISO.

Issue #17, item 14. Browser checks of how it looks are in tests/trials/test_wayfinding_browser.py.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Permission

from ictms.lib.forms import IsoDateField
from ictms.templatetags.nav import current_link

pytestmark = pytest.mark.django_db

NAV = re.compile(r'<nav class="mainnav">(.*?)</nav>', re.DOTALL)
CURRENT = re.compile(r'<a href="([^"]+)" aria-current="page">([^<]+)</a>')


def nav_of(response: Any) -> str:
    found = NAV.search(response.content.decode())
    assert found, "no navigation on the page"
    return found.group(1)


def current_of(response: Any) -> list[tuple[str, str]]:
    return CURRENT.findall(nav_of(response))


# --- the current page ---------------------------------------------------------------------------

@pytest.mark.parametrize("persona,url,label", [
    ("admin", "/t/TRIAL-A/", "Home"),
    ("admin", "/t/TRIAL-A/schedule/", "Schedule"),
    ("admin", "/t/TRIAL-A/sites/", "Sites"),
    ("admin", "/t/TRIAL-A/visits/", "Visit grid"),
    ("admin", "/t/TRIAL-A/visits/overdue/", "Overdue visits"),  # not the grid, whose URL is a prefix of it
    ("admin", "/t/TRIAL-A/qc/dashboard/", "QC dashboard"),  # not the queue (/qc/)
    ("qc", "/t/TRIAL-A/qc/", "QC queue"),
    ("coordinator", "/t/TRIAL-A/participants/", "Participants"),
    ("auditor", "/t/TRIAL-A/audit/", "Audit trail"),
])
def test_the_navigation_marks_the_current_page_and_only_it(page_client, world, persona, url, label):
    response = page_client(world.user(persona)).get(url)
    assert response.status_code == 200
    assert current_of(response) == [(url, label)]


def test_a_page_under_a_section_marks_its_section(page_client, world):
    client = page_client(world.admin)
    response = client.get(f"/t/TRIAL-A/schedule/{world.timepoints[0].pk}/")
    assert current_of(response) == [("/t/TRIAL-A/schedule/", "Schedule")]
    response = client.get(f"/t/TRIAL-A/participants/{world.participant.pk}/")
    assert current_of(response) == [("/t/TRIAL-A/participants/", "Participants")]


def test_home_is_current_only_on_itself():
    links = [("/t/X/", "Home", True), ("/t/X/visits/", "Visit grid", False)]
    assert current_link("/t/X/", links) == 0
    assert current_link("/t/X/visits/3/", links) == 1
    assert current_link("/t/X/reads/tasks/3/", links) is None  # no section: nothing is current


# --- what the navigation offers -----------------------------------------------------------------

def test_the_admin_sees_the_qc_queue_in_the_navigation_and_may_open_it_read_only(page_client, world):
    from tests.imaging.factories import make_series
    from tests.trials import factories as f

    visit = f.visit(world.participant, "BL")
    make_series(visit, n=1, rows=32, columns=32)
    client = page_client(world.admin)
    assert 'href="/t/TRIAL-A/qc/"' in nav_of(client.get("/t/TRIAL-A/"))
    response = client.get("/t/TRIAL-A/qc/")
    assert response.status_code == 200 and f'data-visit="{visit.pk}"' in response.content.decode()
    dashboard = client.get("/t/TRIAL-A/qc/dashboard/").content.decode()
    assert 'id="kpi-queue">1<' in dashboard
    # Deciding stays the QC analyst's: the admin's POST on the visit's QC page is refused.
    assert client.post(f"/t/TRIAL-A/qc/visits/{visit.pk}/", {"form": "accept"}).status_code == 403


@pytest.mark.parametrize("persona,status", [("coordinator", 403), ("reader", 403), ("admin_b", 404), (None, 302)])
def test_the_qc_queue_stays_closed_to_site_and_blinded_roles(page_client, world, persona, status):
    client = page_client(world.user(persona) if persona else None)
    assert client.get("/t/TRIAL-A/qc/").status_code == status
    if persona in ("coordinator", "reader"):
        assert 'href="/t/TRIAL-A/qc/"' not in nav_of(client.get("/t/TRIAL-A/schedule/"))


def test_create_a_trial_is_offered_to_whoever_may_create_trials_even_with_one_trial(page_client, world):
    world.admin.user_permissions.add(Permission.objects.get(content_type__app_label="trials", codename="add_trial"))
    client = page_client(world.admin)
    assert client.get("/").status_code == 302  # one trial: home goes straight to it, so the offer must be there
    home = client.get("/t/TRIAL-A/").content.decode()
    assert 'id="create-trial"' in home and 'id="nav-create-trial"' in home
    assert 'id="nav-create-trial"' in client.get("/t/TRIAL-A/schedule/").content.decode()
    assert client.get("/trials/new/").status_code == 200


def test_create_a_trial_is_not_offered_to_who_may_not(page_client, world):
    for persona in ("admin", "coordinator"):
        client = page_client(world.user(persona))
        body = client.get("/t/TRIAL-A/" if persona == "admin" else "/t/TRIAL-A/participants/").content.decode()
        assert "Create a trial" not in body and "Create another trial" not in body
        assert client.get("/trials/new/").status_code == 403


# --- the visit grid -----------------------------------------------------------------------------

def _grid_cells(body: str) -> dict[str, str]:
    """{visit id: the cell's HTML} of the grid."""
    return dict(re.findall(r'<a class="cell-link" href="/t/TRIAL-A/visits/(\d+)/">(.*?)</td>', body, re.DOTALL))


def test_the_grid_offers_submit_images_in_each_cell_a_coordinator_may_upload_to(page_client, world):
    from tests.reads.factories import accept
    from tests.trials import factories as f

    bl, w8 = f.visit(world.participant, "BL"), f.visit(world.participant, "W8")
    accept(bl, actor=world.qc)  # accepted: it takes no new images without a query
    cells = _grid_cells(page_client(world.coordinator).get("/t/TRIAL-A/visits/").content.decode())
    assert f'href="/t/TRIAL-A/visits/{w8.pk}/submit/">Submit images' in cells[str(w8.pk)]
    assert "Submit images" not in cells[str(bl.pk)]


@pytest.mark.parametrize("persona", ["admin", "qc", "sponsor"])
def test_the_grid_offers_no_upload_to_roles_without_the_upload_right(page_client, world, persona):
    body = page_client(world.user(persona)).get("/t/TRIAL-A/visits/").content.decode()
    assert "101-001" in body and "Submit images" not in body


def test_the_grid_offers_no_upload_in_a_locked_trial(page_client, world):
    from trials.models import Trial

    Trial.objects.filter(pk=world.trial.pk).update(status="locked")
    body = page_client(world.coordinator).get("/t/TRIAL-A/visits/").content.decode()
    assert "101-001" in body and "Submit images" not in body


# --- dates --------------------------------------------------------------------------------------

def _all_form_classes() -> list[type[forms.BaseForm]]:
    import audit.views  # noqa: F401  (import every module that declares a form)
    import imaging.intake.views
    import imaging.qc.views
    import imaging.queries.views  # noqa: F401
    import reads.adjudication_views
    import reads.forms
    import reads.package_views
    import reads.quality_views
    import reads.views  # noqa: F401
    import trials.forms  # noqa: F401

    seen: list[type[forms.BaseForm]] = []
    todo: list[type] = [forms.Form, forms.ModelForm]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in ("trials", "imaging", "reads", "audit", "ictms"):
                seen.append(sub)
    return seen


def test_every_date_field_of_every_form_is_the_iso_date_field():
    classes = _all_form_classes()
    dated = {f"{c.__module__}.{c.__name__}.{name}": field for c in classes for name, field in c.base_fields.items()
             if isinstance(field, forms.DateField)}
    assert len(dated) >= 5, dated  # enrolment, participant dates, scan date, query due date, package cut-off
    wrong = sorted(name for name, field in dated.items() if not isinstance(field, IsoDateField))
    assert not wrong, f"date fields that are not ictms.lib.forms.IsoDateField: {wrong}"


def test_the_iso_date_field_is_a_text_input_that_reads_only_iso():
    field = IsoDateField()
    html = field.widget.render("d", dt.date(2026, 3, 1))
    assert 'type="text"' in html and 'value="2026-03-01"' in html and 'placeholder="YYYY-MM-DD"' in html
    assert r'pattern="\d{4}-\d{2}-\d{2}"' in html
    assert field.clean("2026-03-01") == dt.date(2026, 3, 1)
    for typed in ("01/03/2026", "03/01/2026", "1.3.2026", "2026-13-01"):
        with pytest.raises(forms.ValidationError, match="YYYY-MM-DD"):
            field.clean(typed)


def test_enrolment_refuses_a_locale_date_with_a_sentence(page_client, world):
    from trials.models import Participant

    response = page_client(world.coordinator).post("/t/TRIAL-A/participants/", {
        "site": world.site.pk, "subject_code": "101-077", "status": "enrolled", "treatment_start_date": "02/12/2026"})
    assert response.status_code == 200
    assert "Enter the date as YYYY-MM-DD" in response.content.decode()
    assert not Participant.objects.filter(subject_code="101-077").exists()


def test_the_audit_trail_date_filters_are_iso_text_inputs(page_client, world):
    body = page_client(world.auditor).get("/t/TRIAL-A/audit/?from=2026-01-02").content.decode()
    assert 'type="date"' not in body
    assert re.search(r'<input type="text" name="from" value="2026-01-02"[^>]*placeholder="YYYY-MM-DD"', body)
    body = page_client(world.auditor).get("/t/TRIAL-A/audit/?from=02/01/2026").content.decode()
    assert 'id="filter-errors"' in body and "YYYY-MM-DD" in body


# --- favicon ------------------------------------------------------------------------------------

def test_every_page_links_the_svg_favicon_and_it_is_served(page_client, world):
    from django.contrib.staticfiles import finders

    for persona, url in (("admin", "/t/TRIAL-A/"), (None, "/accounts/login/")):
        body = page_client(world.user(persona) if persona else None).get(url).content.decode()
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in body
    path = finders.find("favicon.svg")
    assert path
    with open(path) as svg:
        assert svg.read().startswith("<svg ")
