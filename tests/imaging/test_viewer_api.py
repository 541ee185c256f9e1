"""Viewer API: series and instance lists, stack order, the header panel, scoping and query counts."""
from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom import dcmread

from imaging.archive.storage import read_instance_bytes
from imaging.models import Instance
from tests.imaging import render_samples as samples
from tests.imaging.factories import add_instance, make_series
from tests.trials.factories import visit

pytestmark = pytest.mark.django_db

ALLOWED = ["admin", "qc", "coordinator", "sponsor", "auditor"]
HIDDEN = ["other_coordinator", "coordinator_b", "admin_b", "reader", "adjudicator", "outsider"]


@pytest.fixture
def series(world):
    return make_series(visit(world.participant, "BL"), n=4, spacing=0.7, burned_in=True, description="CHEST")


def test_series_of_a_visit_are_listed_with_what_the_viewer_shows(world, api, series):
    response = api(world.qc).get(f"/api/series/?visit={series.study.visit_id}")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == series.pk and row["visit"] == series.study.visit_id
    assert row["instance_count"] == 4 and row["modality"] == "CT" and row["description"] == "CHEST"
    assert row["burned_in_annotation"] is True and row["burned_in_reason"]
    assert row["timepoint"] == "BL" and row["thumbnail_url"] == f"/api/series/{series.pk}/thumbnail"
    assert api(world.qc).get(f"/api/series/{series.pk}/").json()["study_uid"] == series.study.study_uid


def test_series_of_a_participant_cover_every_visit(world, api, series):
    make_series(visit(world.participant, "W8"), n=1)
    response = api(world.admin).get(f"/api/series/?participant={world.participant.pk}")
    assert [r["timepoint"] for r in response.json()["results"]] == ["BL", "W8"]


def test_instances_carry_geometry_and_spacing(world, api, series):
    rows = api(world.qc).get(f"/api/instances/?series={series.pk}").json()["results"]
    assert [r["instance_number"] for r in rows] == [1, 2, 3, 4]
    first = rows[0]
    assert first["pixel_spacing"] == [0.7, 0.7] and first["spacing_source"] == "PixelSpacing"
    assert first["spacing_warning"] == ""
    assert (first["rows"], first["columns"], first["number_of_frames"]) == (64, 64, 1)
    assert [r["slice_position"] for r in rows] == [0.0, 2.5, 5.0, 7.5]


def test_instances_are_stacked_by_position_when_numbers_disagree(world, api):
    v = visit(world.participant, "BL")
    s = make_series(v, n=3)
    # A slice numbered last but lying between the first two (sites renumber, scanners interleave).
    ds = dcmread(io.BytesIO(read_instance_bytes(s.instances.order_by("instance_number")[0].storage_key)))
    ds.InstanceNumber = 9
    ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], 1.25]
    odd = add_instance(s, ds)
    rows = api(world.qc).get(f"/api/instances/?series={s.pk}").json()["results"]
    assert [r["id"] for r in rows][1] == odd.pk
    assert [r["slice_position"] for r in rows] == [0.0, 1.25, 2.5, 5.0]


def test_without_geometry_instances_follow_their_numbers(world, api):
    cr = [samples.cr("MONOCHROME1") for _ in range(3)]
    for number, ds in zip((3, 1, 2), cr, strict=False):
        ds.InstanceNumber = number
    s = make_series(visit(world.participant, "BL"), datasets=cr, modality="CR")
    rows = api(world.qc).get(f"/api/instances/?series={s.pk}").json()["results"]
    assert [r["instance_number"] for r in rows] == [1, 2, 3]
    assert rows[0]["slice_position"] is None and rows[0]["spacing_source"] == ""
    assert rows[0]["spacing_warning"].startswith("This image has no pixel spacing")


def test_imager_pixel_spacing_is_flagged(world, api):
    s = make_series(visit(world.participant, "BL"), n=1, spacing=0.15, spacing_source="ImagerPixelSpacing")
    [row] = api(world.qc).get(f"/api/instances/?series={s.pk}").json()["results"]
    assert row["spacing_source"] == "ImagerPixelSpacing" and "detector" in row["spacing_warning"]


def test_the_header_panel_shows_the_de_identified_header(world, api, series):
    instance = series.instances.first()
    response = api(world.coordinator).get(f"/api/instances/{instance.pk}/header/")
    assert response.status_code == 200
    rows = {r["keyword"]: r for r in response.json()["rows"]}
    assert rows["PatientID"]["value"] == "101-001"
    assert rows["SOPInstanceUID"]["value"] == instance.sop_uid
    assert rows["TransferSyntaxUID"]["depth"] == 0
    assert "PixelData" not in rows and "InstitutionName" not in rows


@pytest.mark.parametrize("persona", ALLOWED)
def test_people_of_the_trial_who_see_the_site_see_its_images(world, api, series, persona):
    client = api(world.user(persona))
    instance = series.instances.first()
    assert client.get(f"/api/series/?visit={series.study.visit_id}").json()["count"] == 1
    assert client.get(f"/api/instances/?series={series.pk}").json()["count"] == 4
    assert client.get(f"/api/instances/{instance.pk}/").status_code == 200
    assert client.get(f"/api/instances/{instance.pk}/header/").status_code == 200


@pytest.mark.parametrize("persona", HIDDEN)
def test_other_sites_other_trials_blinded_readers_and_outsiders_see_nothing(world, api, series, persona):
    client = api(world.user(persona))
    instance = series.instances.first()
    assert client.get(f"/api/series/{series.pk}/").status_code == 404
    assert client.get(f"/api/series/?visit={series.study.visit_id}").status_code == 404
    assert client.get("/api/series/").json()["count"] == 0
    assert client.get(f"/api/instances/?series={series.pk}").json()["count"] == 0
    assert client.get(f"/api/instances/{instance.pk}/").status_code == 404
    assert client.get(f"/api/instances/{instance.pk}/header/").status_code == 404


def test_anonymous_clients_are_asked_to_authenticate(world, api, series):
    client = api(None)
    for url in (f"/api/series/{series.pk}/", f"/api/instances/?series={series.pk}",
                f"/api/instances/{series.instances.first().pk}/header/"):
        assert client.get(url).status_code == 401


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_list_endpoints_make_a_constant_number_of_queries(world, api):
    v = visit(world.participant, "BL")
    s = make_series(v, n=2)
    client = api(world.qc)
    client.post("/api/measurements/", {"instance": s.instances.first().pk, "points": [[1, 1], [5, 5]]}, format="json")
    urls = [f"/api/series/?visit={v.pk}", f"/api/series/?participant={world.participant.pk}",
            f"/api/instances/?series={s.pk}", f"/api/measurements/?series={s.pk}"]
    for url in urls:
        client.get(url)
    small = {url: count(client, url) for url in urls}
    make_series(v, n=3)
    template = read_instance_bytes(Instance.objects.filter(series=s).first().storage_key)
    for _ in range(6):
        add_instance(s, dcmread(io.BytesIO(template)))
    for instance in s.instances.all():
        client.post("/api/measurements/", {"instance": instance.pk, "points": [[1, 1], [9, 9]]}, format="json")
    large = {url: count(client, url) for url in urls}
    assert large == small
