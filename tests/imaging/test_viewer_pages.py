"""Viewer pages: who may open them, what they are configured with, and the links that lead there."""
from __future__ import annotations

import json

import pytest

from tests.imaging.factories import make_series
from tests.trials.factories import visit

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="viewer-config" type="application/json">') + len(
        '<script id="viewer-config" type="application/json">')
    return json.loads(html[start: html.index("</script>", start)])


@pytest.mark.parametrize("persona,can_measure", [
    ("qc", True), ("admin", True), ("coordinator", False), ("sponsor", False), ("auditor", False),
])
def test_the_visit_viewer_opens_for_those_who_see_the_visit(world, page_client, persona, can_measure):
    v = visit(world.participant, "BL")
    make_series(v, n=1)
    response = page_client(world.user(persona)).get(f"/t/TRIAL-A/viewer/visits/{v.pk}/")
    assert response.status_code == 200
    config = config_of(response)
    assert config["visits"] == [{"id": v.pk, "code": "BL", "label": "Baseline", "baseline": True}]
    assert config["canMeasure"] is can_measure and config["compare"] is False
    assert {p["key"] for p in config["presets"]} == {"soft-tissue", "lung", "bone", "liver", "brain", "auto"}
    assert "/static/js/viewer.js" in response.content.decode()


def test_the_participant_viewer_lists_every_visit_in_order_for_comparison(world, page_client):
    response = page_client(world.qc).get(f"/t/TRIAL-A/viewer/participants/{world.participant.pk}/")
    config = config_of(response)
    assert [v["code"] for v in config["visits"]] == ["BL", "W8", "W16"] and config["compare"] is True


@pytest.mark.parametrize("persona", ["other_coordinator", "reader", "adjudicator"])
def test_other_sites_and_blinded_roles_get_404(world, page_client, persona):
    v = visit(world.participant, "BL")
    client = page_client(world.user(persona))
    assert client.get(f"/t/TRIAL-A/viewer/visits/{v.pk}/").status_code == 404
    assert client.get(f"/t/TRIAL-A/viewer/participants/{world.participant.pk}/").status_code == 404


@pytest.mark.parametrize("persona", ["coordinator_b", "admin_b", "outsider"])
def test_people_outside_the_trial_get_404(world, page_client, persona):
    v = visit(world.participant, "BL")
    assert page_client(world.user(persona)).get(f"/t/TRIAL-A/viewer/visits/{v.pk}/").status_code == 404


def test_a_visit_of_another_trial_is_not_found_under_this_trial(world, page_client):
    other = visit(world.participant_b, "BL")
    assert page_client(world.admin_b).get(f"/t/TRIAL-B/viewer/visits/{other.pk}/").status_code == 200
    assert page_client(world.admin).get(f"/t/TRIAL-A/viewer/visits/{other.pk}/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(world, page_client):
    v = visit(world.participant, "BL")
    response = page_client(None).get(f"/t/TRIAL-A/viewer/visits/{v.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_visit_grid_and_participant_page_link_to_the_viewer_where_there_are_images(world, page_client):
    with_images = visit(world.participant, "BL")
    make_series(with_images, n=1)
    without = visit(world.participant, "W8")
    client = page_client(world.qc)
    grid = client.get("/t/TRIAL-A/visits/").content.decode()
    assert f"/t/TRIAL-A/viewer/visits/{with_images.pk}/" in grid
    assert f"/t/TRIAL-A/viewer/visits/{without.pk}/" not in grid
    detail = client.get(f"/t/TRIAL-A/participants/{world.participant.pk}/").content.decode()
    assert f"/t/TRIAL-A/viewer/visits/{with_images.pk}/" in detail
    assert f"/t/TRIAL-A/viewer/participants/{world.participant.pk}/" in detail
