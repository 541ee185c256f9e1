"""QC and query list pages and endpoints make a constant number of queries whatever the trial's size.

Same pattern as tests/trials/test_query_counts.py: count at one size, grow the trial (more
visits in QC, series, findings, automatic and answered queries, accepted visits, overdue
visits at both sites), count again.
"""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import Series
from tests.imaging.qc_page_helpers import (
    finding,
    grow_trial,
    qc_visit,
    quick_series,
)

pytestmark = pytest.mark.django_db


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


PAGES = [
    ("qc", "/t/TRIAL-A/"), ("qc", "/t/TRIAL-A/qc/"), ("qc", "/t/TRIAL-A/qc/?site=101&modality=CT"),
    ("qc", "/t/TRIAL-A/queries/"), ("qc", "/t/TRIAL-A/queries/?state=open,answered&age=0-7"),
    ("qc", "/t/TRIAL-A/visits/overdue/"), ("qc", "/t/TRIAL-A/qc/dashboard/"), ("admin", "/t/TRIAL-A/qc/dashboard/"),
    ("coordinator", "/t/TRIAL-A/participants/"), ("coordinator", "/t/TRIAL-A/queries/"),
    ("coordinator", "/t/TRIAL-A/visits/overdue/"),
    ("qc", "/api/queries/?trial=TRIAL-A"), ("coordinator", "/api/queries/"), ("qc", "/api/qc/visits/"),
    ("qc", "/api/qc/visits/?modality=CT&site=102"),
]


@pytest.mark.parametrize("persona,url", PAGES)
def test_list_pages_make_a_constant_number_of_queries(world, page_client, api, persona, url):
    client = api(world.user(persona)) if url.startswith("/api/") else page_client(world.user(persona))
    grow_trial(world, 1, start=100)
    client.get(url)  # warm caches (content types, sessions)
    small = count(client, url)
    grow_trial(world, 4, start=200)
    large = count(client, url)
    assert large == small, f"{url}: {small} queries at the small size, {large} at the large one"


def test_the_series_list_of_a_visit_makes_a_constant_number_of_queries(world, api):
    visit = qc_visit(world.participant, "BL", n_series=1)
    url = f"/api/series/?visit={visit.pk}"
    client = api(world.coordinator)
    client.get(url)
    small = count(client, url)
    for number in range(2, 12):
        series = quick_series(visit, number)
        finding(visit, series, code="missing_slices")
        finding(visit, series, code="contrast_uncertain", severity="warning")
    assert Series.objects.filter(study__visit=visit).count() == 11
    assert count(client, url) == small


def test_the_review_page_makes_a_constant_number_of_queries_whatever_the_series(world, page_client):
    visit = qc_visit(world.participant, "BL", n_series=1, qc=world.qc, coordinator=world.coordinator)
    url = f"/t/TRIAL-A/qc/visits/{visit.pk}/"
    client = page_client(world.qc)
    client.get(url)
    small = count(client, url)
    for number in range(2, 9):
        finding(visit, quick_series(visit, number), code="missing_slices")
    assert count(client, url) == small


def test_the_visit_page_makes_a_constant_number_of_queries_whatever_its_queries(world, page_client):
    visit = qc_visit(world.participant, "BL", n_series=1, qc=world.qc, coordinator=world.coordinator)
    url = f"/t/TRIAL-A/visits/{visit.pk}/"
    client = page_client(world.coordinator)
    client.get(url)
    small = count(client, url)
    from imaging.queries.services import query_raise

    for i in range(6):
        query_raise(actor=world.qc, visit=visit, subject=f"q{i}", message="Please check.")
        finding(visit, quick_series(visit, 10 + i), code="missing_slices")
    assert count(client, url) == small
