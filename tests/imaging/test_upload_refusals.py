"""A visit that takes no images says why in the same words on the page, the upload form and the API.

The words come from one predicate (Visit.image_refusal); each channel only shows them.
"""
from __future__ import annotations

import html

import pytest

from imaging.models import Submission
from tests.imaging.qc_page_helpers import received
from tests.trials import factories as f
from trials.models import Trial, Visit

pytestmark = pytest.mark.django_db

ACCEPTED = ("The images of this visit were already accepted by QC. Send new images only when QC asks for a "
            "re-upload through a query.")


def refused_visit(world, why: str) -> Visit:
    visit = f.visit(world.participant, "BL")
    if why == "accepted":
        received(visit, state="accepted")
    else:
        Trial.objects.filter(pk=world.trial.pk).update(status=why)
    return visit


def expected(why: str) -> str:
    return ACCEPTED if why == "accepted" else f"TRIAL-A is {why}: no images can be submitted."


@pytest.mark.parametrize("why", ["accepted", "locked", "closed"])
def test_the_page_the_form_and_the_api_refuse_in_the_same_words(world, api, page_client, why):
    visit = refused_visit(world, why)
    words = expected(why)
    pages = page_client(world.coordinator)

    detail = pages.get(f"/t/TRIAL-A/visits/{visit.pk}/")
    assert detail.status_code == 200
    text = html.unescape(detail.content.decode())
    assert words in text and 'id="submit-images"' not in text

    offered = pages.get(f"/t/TRIAL-A/visits/{visit.pk}/submit/", follow=True)
    assert words in html.unescape(offered.content.decode())

    posted = pages.post(f"/t/TRIAL-A/visits/{visit.pk}/submit/", {"comment": "again"})
    assert posted.status_code == 200 and words in html.unescape(posted.content.decode())

    response = api(world.coordinator).post("/api/submissions/", {"visit": visit.pk}, format="json")
    assert response.status_code == 409 and response.json()["detail"] == words
    assert not Submission.objects.exists()


def test_a_visit_that_takes_images_offers_the_upload(world, page_client):
    visit = f.visit(world.participant, "BL")
    text = page_client(world.coordinator).get(f"/t/TRIAL-A/visits/{visit.pk}/").content.decode()
    assert 'id="submit-images"' in text and "no images can be submitted" not in text


def test_without_the_upload_right_the_page_offers_nothing_and_gives_no_reason(world, page_client):
    visit = refused_visit(world, "accepted")
    text = html.unescape(page_client(world.qc).get(f"/t/TRIAL-A/visits/{visit.pk}/").content.decode())
    assert 'id="submit-images"' not in text and ACCEPTED not in text
