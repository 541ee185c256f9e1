"""Rendered frames and thumbnails: every photometric interpretation and transfer syntax, caching, scoping, speed."""
from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLosslessSV1, RLELossless
from rest_framework.authtoken.models import Token

from imaging.viewer import render
from imaging.viewer.files import instance_path, thumbnail_key
from tests.imaging import render_samples as samples
from tests.imaging.factories import make_series
from tests.trials.factories import visit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_render_caches() -> None:
    render.clear_frame_cache()


def decoded(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)))


def stored(world, datasets, **kwargs):
    return make_series(visit(world.participant, "BL"), datasets=datasets, **kwargs).instances.order_by("id")


def compressed(ds, syntax):
    ds.compress(syntax, encoding_plugin="pylibjpeg" if syntax == JPEG2000Lossless else "pydicom")
    return ds


SAMPLES = {
    "CT signed, rescaled (MONOCHROME2)": lambda: samples.ct_signed(),
    "MR unsigned, no window": lambda: samples.mr_unsigned(),
    "CR MONOCHROME1": lambda: samples.cr("MONOCHROME1"),
    "CR MONOCHROME2": lambda: samples.cr("MONOCHROME2"),
    "PET fractional rescale": lambda: samples.pet_float_rescale(),
    "US RGB multi-frame": lambda: samples.us_rgb_cine()[0],
    "US RGB planar": lambda: samples.us_rgb_cine(planar=1)[0],
    "YBR_FULL native": lambda: samples.ybr_full_native()[0],
    "JPEG baseline YBR_FULL_422": lambda: samples.jpeg_baseline_ybr422()[0],
    "JPEG baseline grayscale": lambda: samples.jpeg_baseline_gray()[0],
    "PALETTE COLOR": lambda: samples.palette_color()[0],
    "Enhanced MR multi-frame": lambda: samples.enhanced_mr(),
    "JPEG lossless SV1": lambda: samples.jpeg_lossless_sv1(samples.mr_unsigned()),
    "RLE lossless": lambda: compressed(samples.ct_signed(), RLELossless),
    "JPEG 2000 lossless": lambda: compressed(samples.mr_unsigned(), JPEG2000Lossless),
    "VOI LUT sequence": lambda: samples.cr_with_voi_lut_sequence()[0],
    "Modality LUT sequence": lambda: samples.xa_with_modality_lut_sequence()[0],
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_each_kind_of_image_renders_through_the_endpoint_exactly_as_the_renderer_does(world, page_client, name):
    instance = stored(world, [SAMPLES[name]()]).get()
    client = page_client(world.qc)
    path = instance_path(instance.storage_key, instance.sha256)
    for frame in range(instance.number_of_frames):
        response = client.get(f"/api/instances/{instance.pk}/frames/{frame}/rendered")
        assert response.status_code == 200, response.content[:300]
        assert response["Content-Type"] == "image/png"
        assert response.content == render.render_frame(path, frame)
        image = decoded(response.content)
        assert image.shape[:2] == (instance.rows, instance.columns)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGBaseline8Bit, JPEGLosslessSV1])
@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_phantom_series_render_in_every_transfer_syntax(world, page_client, syntax, photometric):
    instance = make_series(visit(world.participant, "BL"), n=1, transfer_syntax=syntax,
                           photometric=photometric).instances.get()
    assert instance.transfer_syntax_uid == syntax
    response = page_client(world.qc).get(f"/api/instances/{instance.pk}/frames/0/rendered?preset=soft-tissue")
    assert response.status_code == 200
    body = decoded(response.content)
    outside, inside = body[0, 0], body[32, 32]  # air in the corner, soft tissue in the middle
    assert (outside > inside) if photometric == "MONOCHROME1" else (outside < inside)


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"])
def test_colour_phantoms_render_in_colour(world, page_client, photometric):
    instance = make_series(visit(world.participant, "BL"), n=1, photometric=photometric).instances.get()
    body = decoded(page_client(world.qc).get(f"/api/instances/{instance.pk}/frames/0/rendered").content)
    assert body.ndim == 3 and body.shape[2] == 3


def test_each_frame_of_a_cine_is_its_own_colour(world, page_client):
    ds, colours = samples.us_rgb_cine(frames=3)
    instance = stored(world, [ds]).get()
    client = page_client(world.qc)
    for frame, colour in enumerate(colours):
        body = decoded(client.get(f"/api/instances/{instance.pk}/frames/{frame}/rendered").content)
        assert tuple(body[5, 5]) == colour


def test_window_preset_size_and_format_are_honoured(world, page_client):
    instance = stored(world, [samples.ct_signed()]).get()
    client = page_client(world.qc)
    url = f"/api/instances/{instance.pk}/frames/0/rendered"
    manual = client.get(url + "?wc=-100&ww=300")
    assert (manual["X-Window-Center"], manual["X-Window-Width"], manual["X-Window-Source"]) == ("-100", "300", "request")
    lung = client.get(url + "?preset=lung")
    assert (lung["X-Window-Center"], lung["X-Window-Width"]) == ("-600", "1500")
    default = client.get(url)
    assert (default["X-Window-Center"], default["X-Window-Source"]) == ("40", "file")
    assert default["X-Pixel-Spacing"] == "0.5,0.5" and default["X-Spacing-Source"] == "PixelSpacing"
    small = client.get(url + "?size=32&format=jpeg")
    assert small["Content-Type"] == "image/jpeg" and max(decoded(small.content).shape) == 32
    assert decoded(client.get(url + "?wc=40&ww=400").content).tolist() == decoded(default.content).tolist()


@pytest.mark.parametrize("query,message", [
    ("wc=40", "both"), ("wc=a&ww=3", "number"), ("wc=40&ww=0", "positive"), ("preset=sepia", "preset"),
    ("size=0", "size"), ("format=gif", "format"), ("quality=500", "quality"),
])
def test_bad_parameters_answer_400(world, page_client, query, message):
    instance = stored(world, [samples.mr_unsigned()]).get()
    response = page_client(world.qc).get(f"/api/instances/{instance.pk}/frames/0/rendered?{query}")
    assert response.status_code == 400 and message in response.json()["detail"]


def test_a_frame_outside_the_instance_is_not_found(world, page_client):
    instance = stored(world, [samples.mr_unsigned()]).get()
    assert page_client(world.qc).get(f"/api/instances/{instance.pk}/frames/1/rendered").status_code == 404


def test_undecodable_pixel_data_answers_422_with_the_reason(world, page_client):
    ds = samples.jpeg_baseline_gray()[0]
    ds.PixelData = encapsulate([b"\xff\xd8 this is not a JPEG stream"])
    instance = stored(world, [ds]).get()
    response = page_client(world.qc).get(f"/api/instances/{instance.pk}/frames/0/rendered")
    assert response.status_code == 422 and "cannot be decoded" in response.json()["detail"]


def test_a_frame_already_held_by_the_browser_answers_304_without_rendering(world, page_client, monkeypatch):
    instance = stored(world, [samples.ct_signed()]).get()
    client = page_client(world.qc)
    url = f"/api/instances/{instance.pk}/frames/0/rendered?preset=bone"
    first = client.get(url)
    assert first["Cache-Control"] == "private, max-age=86400" and "Authorization" in first["Vary"]
    monkeypatch.setattr(render, "load_frame", lambda *a, **k: pytest.fail("rendered again"))
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    monkeypatch.undo()
    assert client.get(url.replace("bone", "lung"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code != 304


def test_thumbnails_are_rendered_once_and_kept_in_storage(world, page_client, monkeypatch):
    series = make_series(visit(world.participant, "BL"), n=5)
    middle = series.instances.order_by("instance_number")[2]
    client = page_client(world.qc)
    response = client.get(f"/api/series/{series.pk}/thumbnail")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert max(decoded(response.content).shape[:2]) <= 128
    assert default_storage.exists(thumbnail_key(middle.sha256, 128))
    monkeypatch.setattr(render, "thumbnail", lambda *a, **k: pytest.fail("rendered again"))
    assert client.get(f"/api/instances/{middle.pk}/thumbnail").content == response.content
    assert client.get(f"/api/series/{series.pk}/thumbnail", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


@pytest.mark.parametrize("persona", ["admin", "qc", "coordinator", "sponsor", "auditor"])
def test_frames_and_thumbnails_are_served_to_those_who_see_the_site(world, page_client, persona):
    series = make_series(visit(world.participant, "BL"), n=1)
    instance = series.instances.get()
    client = page_client(world.user(persona))
    assert client.get(f"/api/instances/{instance.pk}/frames/0/rendered").status_code == 200
    assert client.get(f"/api/instances/{instance.pk}/thumbnail").status_code == 200
    assert client.get(f"/api/series/{series.pk}/thumbnail").status_code == 200


@pytest.mark.parametrize("persona", ["other_coordinator", "coordinator_b", "admin_b", "reader", "adjudicator", "outsider"])
def test_frames_and_thumbnails_of_unseen_images_are_not_found(world, page_client, persona):
    series = make_series(visit(world.participant, "BL"), n=1)
    instance = series.instances.get()
    client = page_client(world.user(persona))
    assert client.get(f"/api/instances/{instance.pk}/frames/0/rendered").status_code == 404
    assert client.get(f"/api/instances/{instance.pk}/thumbnail").status_code == 404
    assert client.get(f"/api/series/{series.pk}/thumbnail").status_code == 404


def test_anonymous_clients_and_bad_tokens_get_401(world):
    series = make_series(visit(world.participant, "BL"), n=1)
    instance = series.instances.get()
    for client in (Client(), Client(HTTP_AUTHORIZATION="Token not-a-token")):
        for url in (f"/api/instances/{instance.pk}/frames/0/rendered", f"/api/instances/{instance.pk}/thumbnail",
                    f"/api/series/{series.pk}/thumbnail"):
            assert client.get(url).status_code == 401


def test_a_token_works_for_frames(world):
    instance = make_series(visit(world.participant, "BL"), n=1).instances.get()
    token = Token.objects.create(user=world.qc)
    for scheme in ("Token", "Bearer"):
        client = Client(HTTP_AUTHORIZATION=f"{scheme} {token.key}")
        assert client.get(f"/api/instances/{instance.pk}/frames/0/rendered").status_code == 200


def test_a_frame_costs_two_queries_with_a_token(world, django_assert_num_queries):
    instance = make_series(visit(world.participant, "BL"), n=1).instances.get()
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.qc).key}")
    client.get(f"/api/instances/{instance.pk}/frames/0/rendered")  # content types, guardian caches
    with django_assert_num_queries(2):  # token + user, then the scoped instance
        assert client.get(f"/api/instances/{instance.pk}/frames/0/rendered?wc=1&ww=2").status_code == 200


def test_a_frame_costs_the_session_plus_one_query_in_the_browser(world, page_client):
    instance = make_series(visit(world.participant, "BL"), n=1).instances.get()
    client = page_client(world.qc)
    client.get(f"/api/instances/{instance.pk}/frames/0/rendered")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/api/instances/{instance.pk}/frames/0/rendered?wc=1&ww=2").status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    # Session, user, the scoped instance, and the session's idle-timeout refresh (settings).
    assert len(statements) == 4, statements
    assert sum("imaging_instance" in sql for sql in statements) == 1
