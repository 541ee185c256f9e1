"""The sponsor's dashboard: the sponsor lands there, every chart has an accessible name and a table,
tumour response comes from final results only, the arm is never shown, constant queries."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from imaging.models import Instance
from reads.models import ReadCase
from tests.imaging.factories import make_series
from tests.reads import test_adjudication
from tests.reads.factories import accept
from tests.reads.test_adjudication import _read, pd_slot
from tests.trials import factories as f
from trials.models import Participant

pytestmark = pytest.mark.django_db
ARM = "ARM-SECRET-ZX"
case = test_adjudication.case  # the fixture: 101-001 double read, BL, W8 and W16 accepted


def _url(world) -> str:
    return reverse("reads:dashboard", args=[world.trial.code])


def _subject(world, code: str, reader_2_mm: float = 22, new: str = "none") -> ReadCase:
    """Another participant of site 101 with BL and W8 accepted, read by both readers (reader_a: 20 mm)."""
    p = f.participant(world.coordinator, world.site, code)
    for k, tp in enumerate(("BL", "W8")):
        visit = f.visit(p, tp)
        visit.scan_date = dt.date.today() - dt.timedelta(days=112 - 56 * k)
        visit.save()
        make_series(visit, n=3, rows=128, columns=128)
        Instance.objects.filter(series__study__visit=visit).update(slice_thickness=2.5)
        accept(visit, actor=world.qc)
    read_case = ReadCase.objects.get(participant=p)
    _read(world, read_case, world.reader, 20)
    _read(world, read_case, world.reader2, reader_2_mm, new=new)
    return read_case


@pytest.fixture
def final_and_pending(world, case):
    """101-001 final (readers agree, PR at W8); 101-002 pending adjudication (PR vs PD)."""
    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, 22)
    _subject(world, "101-002", 41, new="unequivocal")
    Participant.objects.update(arm=ARM)
    return case


def test_the_sponsor_lands_on_the_dashboard(page_client, world):
    response = page_client(world.sponsor).get(reverse("trials:home", args=[world.trial.code]))
    assert response.status_code == 302 and response["Location"] == _url(world)


@pytest.mark.parametrize("persona,status", [
    ("sponsor", 200), ("admin", 200), ("reader", 403), ("coordinator", 403), ("qc", 403), ("adjudicator", 403),
    ("admin_b", 404), ("outsider", 404),
])
def test_who_opens_the_dashboard(page_client, world, persona, status):
    assert page_client(world.user(persona)).get(_url(world)).status_code == status


def test_every_chart_has_a_name_and_a_table(page_client, world, final_and_pending):
    text = page_client(world.sponsor).get(_url(world)).content.decode()
    for chart, table in (("monthly-chart", "monthly-table"), ("waterfall-chart", "waterfall-table"),
                         ("spider-chart", "spider-table")):
        assert re.search(rf'<svg[^>]*id="{chart}"[^>]*role="img"[^>]*aria-labelledby="{chart}-title', text), chart
        assert f'<title id="{chart}-title">' in text and f'id="{table}"' in text
    for table in ("visit-status-table", "sites-table", "reading-table"):
        assert f'id="{table}"' in text
    assert text.count('role="img"') == 7  # monthly, status, first pass, turnaround, reading, waterfall, spider
    assert text.count("<details>") == 6
    assert 'aria-label="Visits by status per timepoint"' in text
    assert 'data-reference="-30 %"' in text and 'data-reference="+20 %"' in text


def test_response_plots_show_final_results_only_and_never_the_arm(page_client, world, final_and_pending):
    text = page_client(world.sponsor).get(_url(world)).content.decode()
    assert ARM not in text and "treatment arm" not in text.lower()
    waterfall = text[text.index('id="waterfall"'):text.index('id="spider"')]
    spider = text[text.index('id="spider"'):]
    # 101-001's reported read (reader 1): 40 mm at baseline, 20 or 22 mm at W8.
    best = "-50.0" if pd_slot(world, final_and_pending) == 2 else "-45.0"
    assert 'data-subject="101-001"' in waterfall and f"{best} %" in waterfall and "Partial response" in waterfall
    assert 'seg-bor-pr' in waterfall
    assert 'data-subject="101-001"' in spider and f"week 8.0: {best} %" in spider
    assert "101-002" not in waterfall and "101-002" not in spider  # pending adjudication
    assert "Progressive disease" not in waterfall


def test_unsigned_reads_are_not_plotted(page_client, world, case):
    _read(world, case, world.reader, 20)  # one reader only: no final result yet
    text = page_client(world.sponsor).get(_url(world)).content.decode()
    waterfall = text[text.index('id="waterfall"'):text.index('id="spider"')]
    assert "101-001" not in waterfall and "No final result yet." in waterfall


def test_progress_counts(page_client, world, final_and_pending):
    text = page_client(world.admin).get(_url(world)).content.decode()
    reading = text[text.index('id="reading-table"'):]
    # 101-001: BL, W8, W16 accepted; 101-002: BL, W8 -> 5 accepted visits x 2 readers; 8 reads signed.
    assert "<th scope=\"row\">Reads signed</th><td>8</td><td>10</td>" in reading
    assert "final result</th><td>1</td><td>3</td>" in reading
    monthly = text[text.index('id="monthly-table"'):]
    this_month = dt.date.today().strftime("%Y-%m")
    # 3 participants (the world's 101-001 and 102-001, and 101-002); 5 visits received, all this month.
    assert f'<th scope="row">{this_month}</th><td>3</td><td>5</td>' in monthly


def _count(page_client, world) -> int:
    client = page_client(world.sponsor)
    client.get(_url(world))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(_url(world)).status_code == 200
    return len(ctx)


def test_constant_queries_whatever_the_number_of_participants(page_client, world, case):
    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, 22)
    _subject(world, "101-002")
    two = _count(page_client, world)
    for i in range(3, 7):
        _subject(world, f"101-{i:03d}", 10)
    assert _count(page_client, world) == two
