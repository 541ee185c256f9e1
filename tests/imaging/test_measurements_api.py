"""Measurements through the API: server-computed mm, warnings, CRUD, and who may see or draw them."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imaging.models import Measurement
from tests.imaging import render_samples as samples
from tests.imaging.factories import make_series
from tests.trials.factories import visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance(world):
    return make_series(visit(world.participant, "BL"), n=1, spacing=0.7).instances.get()


def post(client, instance, points, **extra):
    return client.post("/api/measurements/", {"instance": instance.pk, "points": points, **extra}, format="json")


@pytest.mark.parametrize("spacing,diameter", [(0.5, 40.0), (0.8, 25.0), (0.35, 30.0)])
def test_a_caliper_across_a_disk_of_known_size_reads_its_diameter(world, api, page_client, spacing, diameter):
    """Find the disk's edges in the frame the viewer would show, measure across it through the API."""
    ds = samples.disk_phantom(spacing, diameter)
    instance = make_series(visit(world.participant, "BL"), datasets=[ds]).instances.get()
    png = page_client(world.qc).get(f"/api/instances/{instance.pk}/frames/0/rendered")
    pixels = np.asarray(Image.open(io.BytesIO(png.content)))
    row = pixels.shape[0] // 2
    bright = np.flatnonzero(pixels[row] > 127)
    left, right = float(bright[0]), float(bright[-1] + 1)  # outer edges of the first and last disk pixel
    response = post(api(world.qc), instance, [[left, row], [right, row]], label="disk")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["length_mm"] == pytest.approx(diameter, abs=spacing)  # within one pixel
    assert body["length_px"] == pytest.approx(right - left)
    assert body["spacing_source"] == "PixelSpacing" and body["spacing_warning"] is False and body["message"] == ""
    assert body["sop_uid"] == instance.sop_uid and body["frame"] == 0 and body["label"] == "disk"


def test_the_client_cannot_choose_the_length(world, api, instance):
    response = post(api(world.qc), instance, [[0, 0], [10, 0]], length_mm=99)
    assert response.status_code == 201 and response.json()["length_mm"] == 7.0


def test_imager_pixel_spacing_lengths_carry_a_warning(world, api):
    instance = make_series(visit(world.participant, "BL"), n=1, spacing=0.2,
                           spacing_source="ImagerPixelSpacing").instances.get()
    body = post(api(world.qc), instance, [[0, 0], [50, 0]]).json()
    assert body["length_mm"] == 10.0 and body["spacing_warning"] is True
    assert "ImagerPixelSpacing" in body["message"]


def test_without_spacing_the_length_is_given_in_pixels_only(world, api):
    instance = make_series(visit(world.participant, "BL"), n=1, spacing=None).instances.get()
    body = post(api(world.qc), instance, [[0, 0], [30, 40]]).json()
    assert body["length_mm"] is None and body["spacing_source"] == "" and body["length_px"] == 50.0
    assert body["message"].startswith("This image has no pixel spacing")


def test_a_bidirectional_measurement_round_trips(world, api, instance):
    body = post(api(world.admin), instance, [[10, 30], [50, 30], [30, 22], [30, 38]], kind="bidirectional").json()
    assert body["kind"] == "bidirectional" and body["length_mm"] == 28.0 and body["short_axis_mm"] == 11.2
    assert body["short_axis_px"] == 16.0


def test_measurements_are_listed_per_instance_and_per_series(world, api, instance):
    client = api(world.qc)
    mid = post(client, instance, [[0, 0], [10, 0]]).json()["id"]
    other = make_series(visit(world.participant, "W8"), n=1).instances.get()
    post(client, other, [[0, 0], [20, 0]])
    assert [m["id"] for m in client.get(f"/api/measurements/?instance={instance.pk}").json()["results"]] == [mid]
    assert [m["id"] for m in client.get(f"/api/measurements/?series={instance.series_id}").json()["results"]] == [mid]
    assert client.get("/api/measurements/").json()["count"] == 2


def test_moving_and_deleting_through_the_api(world, api, instance):
    client = api(world.qc)
    mid = post(client, instance, [[0, 0], [10, 0]]).json()["id"]
    moved = client.patch(f"/api/measurements/{mid}/", {"points": [[0, 0], [0, 30]]}, format="json")
    assert moved.status_code == 200 and moved.json()["length_mm"] == 21.0
    assert client.delete(f"/api/measurements/{mid}/").status_code == 204
    assert Measurement.objects.get(pk=mid).is_deleted
    assert client.get(f"/api/measurements/{mid}/").status_code == 404
    assert client.get(f"/api/measurements/?instance={instance.pk}").json()["count"] == 0


@pytest.mark.parametrize("payload,field", [
    ({"points": [[0, 0], [500, 0]]}, "points"),
    ({"points": [[0, 0]]}, "points"),
    ({"points": [[0, 0], [5, 5]], "kind": "circle"}, "kind"),
    ({"points": [[0, 0], [5, 5]], "frame": 3}, "frame"),
    ({"points": [[0, 0], [5, 5], [1, 1], [2, 2]], "kind": "bidirectional"}, "points"),
])
def test_invalid_measurements_answer_400_with_the_field(world, api, instance, payload, field):
    response = api(world.qc).post("/api/measurements/", {"instance": instance.pk, **payload}, format="json")
    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize("persona", ["coordinator", "sponsor", "auditor"])
def test_people_who_see_the_image_but_may_not_measure_get_403(world, api, instance, persona):
    client = api(world.user(persona))
    assert post(client, instance, [[0, 0], [10, 0]]).status_code == 403
    mid = post(api(world.qc), instance, [[0, 0], [10, 0]]).json()["id"]
    assert client.get(f"/api/measurements/{mid}/").status_code == 200
    assert client.patch(f"/api/measurements/{mid}/", {"points": [[0, 0], [3, 0]]}, format="json").status_code == 403
    assert client.delete(f"/api/measurements/{mid}/").status_code == 403


def test_another_measurer_may_not_move_my_measurement(world, api, instance):
    mid = post(api(world.qc), instance, [[0, 0], [10, 0]]).json()["id"]
    listed = api(world.admin).get(f"/api/measurements/{mid}/").json()
    assert listed["can_edit"] is False
    assert api(world.admin).patch(f"/api/measurements/{mid}/", {"points": [[0, 0], [3, 0]]},
                                  format="json").status_code == 403


@pytest.mark.parametrize("persona", ["other_coordinator", "coordinator_b", "admin_b", "reader", "outsider"])
def test_measurements_on_images_one_cannot_see_do_not_exist(world, api, instance, persona):
    mid = post(api(world.qc), instance, [[0, 0], [10, 0]]).json()["id"]
    client = api(world.user(persona))
    assert client.get("/api/measurements/").json()["count"] == 0
    assert client.get(f"/api/measurements/{mid}/").status_code == 404
    assert client.patch(f"/api/measurements/{mid}/", {"points": [[0, 0], [3, 0]]}, format="json").status_code == 404
    assert client.delete(f"/api/measurements/{mid}/").status_code == 404
    assert post(client, instance, [[0, 0], [10, 0]]).status_code == 404


def test_anonymous_clients_cannot_list_or_draw(world, api, instance):
    assert api(None).get("/api/measurements/").status_code == 401
    assert post(api(None), instance, [[0, 0], [10, 0]]).status_code == 401
