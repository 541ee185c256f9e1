"""The audit trail's filters (API, page, CSV export): a bad date is an error, never a wider trail."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from audit.models import AuditEvent
from trials import services

pytestmark = pytest.mark.django_db


def seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["seq"] for row in response.json()["results"]]


@pytest.mark.parametrize("params,parameter", [("from=yesterday", "from"), ("to=2024-13-01", "to")])
def test_the_api_answers_400_to_a_bad_date(world, api, params, parameter):
    response = api(world.auditor).get(f"/api/audit-events/?{params}")
    assert response.status_code == 400 and parameter in response.json(), response.content


def test_the_api_filters_as_before(world, api):
    services.site_update(actor=world.admin, site=world.site, name="Renamed")
    client = api(world.auditor)
    everything = seqs(client.get("/api/audit-events/?trial=TRIAL-A"))
    (update,) = AuditEvent.objects.filter(action="site.update")
    assert seqs(client.get("/api/audit-events/?action=site.")) == [update.seq]
    assert update.seq in seqs(client.get("/api/audit-events/?user=ADMIN_A"))  # any case
    assert seqs(client.get(f"/api/audit-events/?object=trials.site:{world.site.pk}&action=site.")) == [update.seq]
    today = dt.date.today().isoformat()
    assert seqs(client.get(f"/api/audit-events/?from={today}&to={today}")) == everything
    assert seqs(client.get("/api/audit-events/?from=2000-01-01&to=2000-01-02")) == []
    assert seqs(client.get("/api/audit-events/?trial=TRIAL-B")) == []  # not the auditor's trial


def test_the_export_with_a_bad_date_answers_400_and_exports_nothing(world, page_client):
    client = page_client(world.auditor)  # logging in is audited too
    before = AuditEvent.objects.count()
    response = client.get("/t/TRIAL-A/audit/export.csv?action=participant.&from=02/01/2024")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "Nothing exported" in body and "from" in body and "101-001" not in body
    assert AuditEvent.objects.count() == before  # no export happened, so none is recorded


def test_the_export_records_the_filters_it_applied(world, page_client):
    response = page_client(world.auditor).get("/t/TRIAL-A/audit/export.csv?action=participant.&from=2000-01-01")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["object"] for r in rows} == {"101-001", "102-001"}
    event = AuditEvent.objects.filter(action="audit.export").latest("seq")
    assert event.data == {"filters": {"action": "participant.", "date_from": "2000-01-01"}}


def test_the_page_shows_a_bad_date_and_lists_nothing(world, page_client):
    response = page_client(world.auditor).get("/t/TRIAL-A/audit/?from=yesterday")
    assert response.status_code == 200
    body = response.content.decode()
    assert "from" in body.split('id="filter-errors"')[1].split("</div>")[0]
    assert "No events match" in body
    assert 'value="yesterday"' in body  # the wrong value stays in the form to be corrected


def test_an_outsider_gets_no_export_whatever_the_filters(world, page_client):
    response = page_client(world.coordinator).get("/t/TRIAL-A/audit/export.csv?from=bad")
    assert response.status_code in (403, 404)
