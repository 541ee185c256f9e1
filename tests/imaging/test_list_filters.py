"""List filters of the imaging API and pages: queries, the QC queue, submissions and their files.

A value a filter cannot read answers 400 naming the parameter (API), or shows the error and
lists nothing (page), instead of being ignored and widening the list.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from imaging.models import Query, SubmissionFile
from tests.imaging.qc_page_helpers import qc_visit
from tests.imaging.upload_helpers import ct_files, upload_all
from tests.trials import factories as f

pytestmark = pytest.mark.django_db


def bad(response, parameter: str) -> None:
    assert response.status_code == 400, response.content
    assert parameter in response.json(), response.json()


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def queries(world):
    visit = qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)
    return {"auto": Query.objects.get(visit=visit, is_automatic=True).pk,
            "manual": Query.objects.get(visit=visit, is_automatic=False).pk, "visit": visit}


# --- queries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("params,parameter", [
    ("state=bogus", "state"), ("state=open,bogus", "state"), ("category=nonsense", "category"),
    ("visit=abc", "visit"), ("age=3-4", "age"), ("automatic=maybe", "automatic"),
    ("trial=TRIAL-A&site=999", "site"), ("site=201", "site"),
])
def test_the_query_list_answers_400_to_a_bad_filter(world, api, params, parameter):
    bad(api(world.qc).get(f"/api/queries/?{params}"), parameter)


@pytest.mark.parametrize("params,expected", [
    ("state=open", {"auto"}), ("state=answered", {"manual"}), ("state=open,answered", {"auto", "manual"}),
    ("state=open,", {"auto"}), ("automatic=1", {"auto"}), ("automatic=false", {"manual"}),
    ("category=acquisition", {"auto"}), ("age=0-7", {"auto", "manual"}), ("age=8-14", set()),
    ("trial=TRIAL-A&site=102", set()), ("trial=TRIAL-A&site=101", {"auto", "manual"}), ("trial=TRIAL-B", set()),
])
def test_the_query_list_filters_as_before(world, api, queries, params, expected):
    assert ids(api(world.qc).get(f"/api/queries/?{params}")) == {queries[k] for k in expected}


def test_the_query_list_filters_by_visit_and_age(world, api, queries):
    assert ids(api(world.qc).get(f"/api/queries/?visit={queries['visit'].pk}")) == {queries["auto"], queries["manual"]}
    assert ids(api(world.qc).get(f"/api/queries/?visit={queries['visit'].pk + 1000}")) == set()
    Query.objects.filter(pk=queries["auto"]).update(created_at=timezone.now() - dt.timedelta(days=40))
    assert ids(api(world.qc).get("/api/queries/?age=31%2B")) == {queries["auto"]}


def test_a_coordinator_cannot_filter_their_way_to_another_sites_queries(world, api, queries):
    bad(api(world.other_coordinator).get("/api/queries/?site=101"), "site")
    assert ids(api(world.other_coordinator).get(f"/api/queries/?visit={queries['visit'].pk}")) == set()


def test_the_queries_page_shows_a_bad_filter_and_lists_nothing(world, page_client, queries):
    response = page_client(world.qc).get("/t/TRIAL-A/queries/?state=bogus&category=acquisition")
    assert response.status_code == 200
    text = response.content.decode()
    errors = text.split('id="filter-errors"')[1].split("</div>")[0]
    assert "state" in errors and "bogus" in errors
    assert re.findall(r'<tr data-query="(\d+)"', text) == []


def test_the_queries_page_ignores_a_trial_parameter(world, page_client, queries):
    # The page's trial is the one in its address; ?trial= was never a filter of the page.
    text = page_client(world.qc).get("/t/TRIAL-A/queries/?trial=TRIAL-B").content.decode()
    assert len(re.findall(r'<tr data-query="(\d+)"', text)) == 2 and 'id="filter-errors"' not in text


# --- the QC queue -------------------------------------------------------------------------------------


def test_the_qc_queue_answers_400_to_an_unknown_site(world, api):
    bad(api(world.qc).get("/api/qc/visits/?trial=TRIAL-A&site=999"), "site")
    bad(api(world.qc).get("/api/qc/visits/?site=201"), "site")  # trial B's site: not the analyst's


def test_the_qc_queue_filters_by_trial_site_and_modality(world, api):
    ct = qc_visit(world.participant, "BL", days_ago=5)
    mr = qc_visit(world.other_participant, "BL", days_ago=4, modality="MR")
    client = api(world.qc)
    assert ct.pk in ids(client.get("/api/qc/visits/?trial=TRIAL-A&site=101&modality=CT"))
    assert ids(client.get("/api/qc/visits/?trial=TRIAL-A&site=101&modality=MR")) == set()
    assert ids(client.get("/api/qc/visits/?trial=TRIAL-B")) == set()
    assert ids(client.get("/api/qc/visits/?modality=MR")) == ids(client.get("/api/qc/visits/?site=102")) == {mr.pk}


def test_a_visits_qc_detail_ignores_the_queue_filters(world, api):
    visit = qc_visit(world.participant, "BL")
    assert api(world.qc).get(f"/api/qc/visits/{visit.pk}/?site=999").status_code == 200


# --- submissions ----------------------------------------------------------------------------------------


def test_the_submission_list_answers_400_to_a_non_integer_visit(world, api):
    bad(api(world.coordinator).get("/api/submissions/?visit=abc"), "visit")


@pytest.mark.parametrize("params,parameter", [
    ("since=abc", "since"), ("status=bogus", "status"), ("processed_after=yesterday", "processed_after"),
])
def test_a_submissions_files_answer_400_to_a_bad_filter(world, api, params, parameter):
    bl = f.visit(world.participant, "BL")
    client = api(world.coordinator)
    sub = upload_all(client, bl.pk, ct_files(2))
    bad(client.get(f"/api/submissions/{sub['id']}/files/?{params}"), parameter)


def test_a_submissions_files_filter_by_since_status_and_time(world, api):
    bl = f.visit(world.participant, "BL")
    client = api(world.coordinator)
    sub = upload_all(client, bl.pk, ct_files(2))
    files = list(SubmissionFile.objects.filter(submission_id=sub["id"]).order_by("id"))
    url = f"/api/submissions/{sub['id']}/files/"
    assert ids(client.get(url)) == {x.pk for x in files}
    assert ids(client.get(f"{url}?since={files[0].pk}")) == {x.pk for x in files[1:]}
    status = files[0].status
    assert ids(client.get(f"{url}?status={status}")) == {x.pk for x in files if x.status == status}
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert ids(client.get(url, {"processed_after": later})) == set()
    earlier = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    assert ids(client.get(url, {"processed_after": earlier})) == {x.pk for x in files if x.processed_at}


# --- the viewer's lists -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url,parameter", [
    ("/api/series/?visit=abc", "visit"), ("/api/series/?participant=1.5", "participant"),
    ("/api/series/?study=x", "study"), ("/api/instances/?series=abc", "series"),
    ("/api/measurements/?instance=abc", "instance"), ("/api/measurements/?series=-", "series"),
])
def test_the_viewer_lists_answer_400_to_a_non_integer_id(world, api, url, parameter):
    # These answered 404 ("No such visit.") before: the id was never looked up, it could not be read.
    bad(api(world.qc).get(url), parameter)


def test_the_series_of_a_visit_the_caller_may_not_see_is_still_404(world, api):
    visit = qc_visit(world.participant, "BL")
    assert api(world.other_coordinator).get(f"/api/series/?visit={visit.pk}").status_code == 404
    assert len(ids(api(world.qc).get(f"/api/series/?visit={visit.pk}"))) == 2


def test_the_upload_page_can_poll_with_the_times_the_api_gives(world, api):
    # static/js/upload.js sends back the largest processed_at it has seen, as the API wrote it.
    bl = f.visit(world.participant, "BL")
    client = api(world.coordinator)
    sub = upload_all(client, bl.pk, ct_files(2))
    url = f"/api/submissions/{sub['id']}/files/"
    rows = client.get(url).json()["results"]
    stamp = max(r["processed_at"] for r in rows if r["processed_at"])
    assert ids(client.get(url, {"processed_after": stamp})) == {r["id"] for r in rows if r["processed_at"] == stamp}
