"""The adjudication, results and metrics pages: who may open them, the signed decision through the page
(wrong password included), what each role sees (and the adjudicator never sees), constant queries."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from imaging.models import Instance
from reads.models import Adjudication, ReadCase
from tests.imaging.factories import make_series
from tests.reads.factories import accept, imaged_case
from tests.reads.test_adjudication import _read, pd_slot
from tests.trials import factories as f

pytestmark = pytest.mark.django_db
PASSWORD = f.PASSWORD
ISO_DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


@pytest.fixture
def disputed(world):
    """101-001 read PR by reader_a and PD by reader_b at W8: one open round for adjudicator_a."""
    case = imaged_case(world, ("BL", "W8"))
    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, 41, new="unequivocal")
    return Adjudication.objects.get(case=case)


def _url(name: str, world, *args) -> str:
    return reverse(f"reads:{name}", args=[world.trial.code, *args])


def _text(response) -> str:
    return CSRF.sub("", response.content.decode())


def _more_disputed(world, n: int, start: int) -> None:
    """n more participants read PR vs PD at W8 (each opens a round)."""
    for i in range(start, start + n):
        p = f.participant(world.coordinator, world.site, f"101-{i:03d}")
        for k, code in enumerate(("BL", "W8")):
            visit = f.visit(p, code)
            visit.scan_date = dt.date.today() - dt.timedelta(days=112 - 56 * k)
            visit.save()
            make_series(visit, n=3, rows=128, columns=128)
            Instance.objects.filter(series__study__visit=visit).update(slice_thickness=2.5)
            accept(visit, actor=world.qc)
        case = ReadCase.objects.get(participant=p)
        _read(world, case, world.reader, 20)
        _read(world, case, world.reader2, 41, new="unequivocal")


# --- who may open what ------------------------------------------------------------------------------

@pytest.mark.parametrize("persona,status", [
    ("adjudicator", 200), ("admin", 200), ("reader", 403), ("qc", 403), ("sponsor", 403), ("coordinator", 403),
    ("admin_b", 404), ("outsider", 404),
])
def test_who_opens_the_adjudication_page(page_client, world, disputed, persona, status):
    response = page_client(world.user(persona)).get(_url("adjudication", world, disputed.pk))
    assert response.status_code == status


def test_another_adjudicator_gets_404(page_client, world, disputed):
    other = f.member(world.trial, "adjudicator", username="adjudicator_b")
    assert page_client(other).get(_url("adjudication", world, disputed.pk)).status_code == 404
    assert page_client(other).get(_url("adjudication-images", world, disputed.pk)).status_code == 404
    response = page_client(other).get(_url("adjudications", world))
    assert response.status_code == 200 and disputed.case.code not in _text(response)


def test_anonymous_is_sent_to_login(page_client, world, disputed):
    for url in (_url("adjudication", world, disputed.pk), _url("results", world), _url("metrics", world)):
        response = page_client(None).get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona,results,metrics", [
    ("admin", 200, 200), ("sponsor", 200, 200), ("qc", 403, 200), ("reader", 403, 403), ("adjudicator", 403, 403),
    ("coordinator", 403, 403), ("admin_b", 404, 404),
])
def test_who_opens_results_and_metrics(page_client, world, disputed, persona, results, metrics):
    client = page_client(world.user(persona))
    assert client.get(_url("results", world)).status_code == results
    assert client.get(_url("metrics", world)).status_code == metrics


# --- the list and the page ------------------------------------------------------------------------------

def test_the_list_shows_the_round_blinded(page_client, world, disputed):
    response = page_client(world.adjudicator).get(_url("adjudications", world))
    text = _text(response)
    assert f'data-adjudication="{disputed.pk}"' in text and disputed.case.code in text
    assert "Best overall response differs" in text and "Progression differs" in text
    assert "Week 8" in text or "W8" in text
    for hidden in ("101-001", "reader_a", "reader_b", world.site.name):
        assert hidden not in text
    assert not ISO_DATE.search(text)


def test_the_page_shows_both_reads_with_the_differences(page_client, world, disputed):
    response = page_client(world.adjudicator).get(_url("adjudication", world, disputed.pk))
    text = _text(response)
    assert 'id="reader-1"' in text and 'id="reader-2"' in text
    assert text.count('data-differs="true"') == 2  # W8's overall, on each side
    assert "PD" in text and "PR" in text and 'id="decide-form"' in text
    assert "I am the adjudicator of this case and approve this decision" in text
    images = _url("adjudication-images", world, disputed.pk)
    assert f"{images}?series=" in text
    for hidden in ("101-001", "reader_a", "reader_b", world.site.name):
        assert hidden not in text
    assert not ISO_DATE.search(text)


def test_the_image_link_opens_the_viewer_at_that_image(page_client, world, disputed):
    instance = Instance.objects.filter(series__study__visit__participant=world.participant).first()
    url = f"{_url('adjudication-images', world, disputed.pk)}?series={instance.series_id}&instance={instance.pk}"
    response = page_client(world.adjudicator).get(url)
    assert response.status_code == 200
    config = response.context["config"]
    assert config["goTo"] == {"series": instance.series_id, "instance": instance.pk, "frame": 0}
    assert config["canMeasure"] is False and len(config["visits"]) == 2
    assert "101-001" not in _text(response)


def test_admin_sees_the_page_read_only(page_client, world, disputed):
    client = page_client(world.admin)
    text = _text(client.get(_url("adjudication", world, disputed.pk)))
    assert 'id="decide-form"' not in text and 'id="read-only"' in text
    response = client.post(_url("adjudication", world, disputed.pk), {
        "selected": "1", "reason_code": "measurement", "rationale": "x", "password": PASSWORD})
    assert response.status_code == 403
    assert Adjudication.objects.get(pk=disputed.pk).state == "open"


def test_the_notification_links_to_the_page(world, disputed):
    assert mail.outbox == [] or _url("adjudication", world, disputed.pk) in mail.outbox[-1].body


# --- the decision -----------------------------------------------------------------------------------------

def test_the_decision_through_the_page(page_client, world, disputed):
    client = page_client(world.adjudicator)
    url = _url("adjudication", world, disputed.pk)
    slot = pd_slot(world, disputed.case)
    body = {"selected": str(slot), "reason_code": "new_lesion_call",
            "rationale": "The liver lesion is new and unequivocal.", "password": "wrong"}

    response = client.post(url, body)
    assert response.status_code == 403
    assert "Wrong password" in _text(response) and 'id="decide-form"' in _text(response)
    assert Adjudication.objects.get(pk=disputed.pk).state == "open"

    response = client.post(url, {**body, "rationale": "", "password": PASSWORD})
    assert response.status_code == 400 and "This field is required" in _text(response)
    response = client.post(url, {**body, "reason_code": "coin", "password": PASSWORD})
    assert response.status_code == 400
    assert Adjudication.objects.get(pk=disputed.pk).state == "open"

    response = client.post(url, {**body, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == url
    decided = Adjudication.objects.get(pk=disputed.pk)
    assert decided.state == "decided" and decided.selected == slot and decided.reason_code == "new_lesion_call"

    text = _text(client.get(url))
    assert 'id="decide-form"' not in text and 'id="decision"' in text
    assert f"Reader {slot}" in text and "The liver lesion is new and unequivocal." in text
    assert decided.printed_name in text and "UTC" in text and decided.meaning in text

    assert client.post(url, {**body, "password": PASSWORD}).status_code == 403  # decided: no form any more
    assert _text(client.get(_url("adjudications", world))).count('data-state="decided"') == 1


# --- results ----------------------------------------------------------------------------------------------

def test_results_rows_per_role(page_client, world, disputed):
    admin, sponsor = page_client(world.admin), page_client(world.sponsor)
    text = _text(admin.get(_url("results", world)))
    assert 'data-source="pending"' in text and "101-001" in text
    assert 'data-source="pending"' not in _text(sponsor.get(_url("results", world)))
    assert 'id="no-results"' in _text(sponsor.get(_url("results", world)))

    slot = pd_slot(world, disputed.case)
    page_client(world.adjudicator).post(_url("adjudication", world, disputed.pk), {
        "selected": str(slot), "reason_code": "new_lesion_call", "rationale": "New liver lesion.",
        "password": PASSWORD})
    for client in (admin, sponsor):
        text = _text(client.get(_url("results", world)))
        assert 'data-subject="101-001" data-timepoint="W8" data-source="adjudication"' in text
        assert f"(Reader {slot})" in text and "PD" in text


def test_results_and_metrics_are_linked_from_the_navigation(page_client, world, disputed):
    text = _text(page_client(world.admin).get(reverse("trials:home", args=[world.trial.code])))
    assert _url("results", world) in text and _url("metrics", world) in text
    text = _text(page_client(world.sponsor).get(reverse("trials:home", args=[world.trial.code]), follow=True))
    assert _url("results", world) in text
    assert _url("results", world) not in _text(page_client(world.qc).get(reverse("trials:home",
                                                                                  args=[world.trial.code])))


# --- metrics ----------------------------------------------------------------------------------------------

def _decide(page_client, world, adjudication, slot: int) -> None:
    response = page_client(world.adjudicator).post(_url("adjudication", world, adjudication.pk), {
        "selected": str(slot), "reason_code": "measurement", "rationale": "Measured right.", "password": PASSWORD})
    assert response.status_code == 302


def test_metrics_by_name_for_the_admin_and_by_pseudonym_for_the_sponsor(page_client, world, disputed):
    _decide(page_client, world, disputed, pd_slot(world, disputed.case))
    admin = _text(page_client(world.admin).get(_url("metrics", world)))
    assert 'data-reader="reader_a"' in admin and 'data-reader="reader_b"' in admin
    assert "<svg" in admin and 'class="p-chart"' in admin and "Centre line" in admin
    assert "Measurement: 1" in admin
    for persona in ("sponsor", "qc"):
        text = _text(page_client(world.user(persona)).get(_url("metrics", world)))
        assert "reader_a" not in text and "reader_b" not in text
        assert 'data-reader="Reader A"' in text and 'data-reader="Reader B"' in text
        assert "p-chart-points" in text  # the points in words for screen readers


def test_an_out_of_control_point_is_marked_and_described(page_client, world, monkeypatch):
    """The engine's monthly example (tests/reads/test_metrics.py): in February A is chosen 18 of 20 and
    B 2 of 20, both outside 3 sigma around 50 %; January's 4 of 20 is just inside."""
    from reads import adjudication_views
    from reads.metrics import compute_reader_metrics
    from tests.reads.test_metrics import _monthly_decisions

    reads, rounds = _monthly_decisions()
    monkeypatch.setattr(adjudication_views.adj, "reader_metrics",
                        lambda trial, names: compute_reader_metrics(reads, rounds))
    text = _text(page_client(world.admin).get(_url("metrics", world)))
    assert text.count('data-out="true"') == 2
    assert "2024-01: 20.0 % (limits 16.5–83.5 %)</li>" in text  # described, not flagged
    assert "2024-02: 90.0 % (limits 16.5–83.5 %), out of control" in text
    assert text.count('data-out-of-control="1"') == 2
    assert text.count("<svg") == 2 and 'class="centre"' in text


# --- constant queries -------------------------------------------------------------------------------------

def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona,name", [
    ("adjudicator", "adjudications"), ("admin", "results"), ("sponsor", "results"), ("admin", "metrics"),
    ("sponsor", "metrics"),
])
def test_pages_make_a_constant_number_of_queries(page_client, world, disputed, persona, name):
    client = page_client(world.user(persona))
    _more_disputed(world, 1, 2)
    for adjudication in Adjudication.objects.select_related("case"):
        _decide(page_client, world, adjudication, 1)
    small = _count(client, _url(name, world))
    _more_disputed(world, 4, 3)
    Adjudication.objects.filter(state="open").first()  # rounds of the new cases stay open
    assert Adjudication.objects.count() == 6
    assert _count(client, _url(name, world)) == small
