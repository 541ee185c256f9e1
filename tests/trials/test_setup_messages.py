"""Set-up errors are sentences for a trial admin, not database constraint names (issue #17, item 11)."""
from __future__ import annotations

import pytest

from trials.models import Site, TimepointDefinition

pytestmark = pytest.mark.django_db

RAW = ("Constraint", "violated", "_per_", "_unique_", "already exists")


def assert_sentence(body: str, sentence: str) -> None:
    assert sentence in body, body[body.find('class="errors"'):][:600]
    shown = [raw for raw in RAW if raw in body]
    assert not shown, f"raw constraint wording {shown} on the page"


def _timepoint(**over: object) -> dict[str, object]:
    values = {"tp-code": "W24", "tp-label": "Week 24", "tp-order": "9", "tp-nominal_day": "168",
              "tp-window_before": "7", "tp-window_after": "7", "tp-required": "on"}
    values.update(over)
    return {k: v for k, v in values.items() if v is not None}


def test_a_second_baseline_is_refused_in_words(page_client, world):
    response = page_client(world.admin).post("/t/TRIAL-A/schedule/", _timepoint(**{"tp-is_baseline": "on"}))
    assert response.status_code == 200
    assert_sentence(response.content.decode(), "already has a baseline timepoint")
    assert not TimepointDefinition.objects.filter(trial=world.trial, code="W24").exists()


def test_a_timepoint_code_or_order_already_used_is_refused_in_words(page_client, world):
    client = page_client(world.admin)
    body = client.post("/t/TRIAL-A/schedule/", _timepoint(**{"tp-code": "W8"})).content.decode()
    assert_sentence(body, "Another timepoint of this trial already has this code")
    body = client.post("/t/TRIAL-A/schedule/", _timepoint(**{"tp-order": "2"})).content.decode()
    assert_sentence(body, "Another timepoint of this trial is already at this position")


def test_making_another_timepoint_the_baseline_is_refused_in_words(page_client, world):
    w8 = world.timepoints[1]
    response = page_client(world.admin).post(f"/t/TRIAL-A/schedule/{w8.pk}/", {
        "tp-code": "W8", "tp-label": "Week 8", "tp-order": "2", "tp-nominal_day": "56", "tp-window_before": "7",
        "tp-window_after": "7", "tp-is_baseline": "on", "tp-required": "on"})
    assert_sentence(response.content.decode(), "already has a baseline timepoint")
    w8.refresh_from_db()
    assert not w8.is_baseline


def test_a_site_number_or_ae_title_already_used_is_refused_in_words(page_client, world):
    client = page_client(world.admin)
    Site.objects.filter(pk=world.other_site.pk).update(ae_title="SITE102")
    body = client.post("/t/TRIAL-A/sites/", {"number": "101", "name": "Twin", "country": "DE", "is_active": "on"}).content.decode()
    assert_sentence(body, "Another site of this trial already has this number")
    body = client.post("/t/TRIAL-A/sites/", {"number": "103", "name": "Twin", "country": "DE", "ae_title": "SITE102",
                                             "is_active": "on"}).content.decode()
    assert_sentence(body, "Another site of this trial already uses this AE title")
    assert not Site.objects.filter(trial=world.trial, number="103").exists()


# --- copying imaging requirements ---------------------------------------------------------------

def _requirements(tp):
    return list(tp.imaging_requirements.order_by("id").values_list("modality", "body_region", "contrast",
                                                                    "max_slice_thickness_mm", "required"))


def test_the_admin_copies_a_timepoints_requirements_to_other_timepoints(page_client, world):
    from decimal import Decimal

    from audit.models import AuditEvent
    from trials import services

    bl, w8, w16 = world.timepoints
    services.imaging_requirement_create(actor=world.admin, timepoint=bl, modality="CT", body_region="Chest",
                                        contrast="required", max_slice_thickness_mm=Decimal(5))
    services.imaging_requirement_create(actor=world.admin, timepoint=bl, modality="MR", body_region="Brain",
                                        required=False)
    client = page_client(world.admin)
    page = client.get(f"/t/TRIAL-A/schedule/{bl.pk}/").content.decode()
    assert 'id="copy-requirements"' in page
    form = page[page.index('id="copy-requirements"'):]
    form = form[:form.index("</form>")]
    assert f'name="copy-targets" value="{w8.pk}"' in form and f'name="copy-targets" value="{bl.pk}"' not in form
    response = client.post(f"/t/TRIAL-A/schedule/{bl.pk}/", {"copy": "1", "copy-targets": [w8.pk, w16.pk]}, follow=True)
    assert "4 imaging requirements copied to W8, W16." in response.content.decode()
    assert _requirements(w8) == _requirements(bl) == _requirements(w16)
    events = AuditEvent.objects.filter(action="imaging_requirement.create", data__copied_from="BL")
    assert sorted(events.values_list("data__timepoint", flat=True)) == ["W16", "W16", "W8", "W8"]
    # Copying again adds nothing twice.
    response = client.post(f"/t/TRIAL-A/schedule/{bl.pk}/", {"copy": "1", "copy-targets": [w8.pk]}, follow=True)
    assert "W8 already had these requirements." in response.content.decode()
    assert len(_requirements(w8)) == 2


def test_copying_needs_a_target_of_the_same_trial_and_the_admin_right(page_client, world):
    from django.core.exceptions import ValidationError

    from ictms.lib.errors import PermissionDeniedError
    from trials import services
    from trials.models import ImagingRequirement

    bl, w8, _ = world.timepoints
    ImagingRequirement.objects.create(timepoint=bl, modality="CT", body_region="Chest")
    body = page_client(world.admin).post(f"/t/TRIAL-A/schedule/{bl.pk}/", {"copy": "1"}).content.decode()
    assert "This field is required." in body or "Choose at least one timepoint" in body
    other_trial_tp = world.other_trial.timepoints.first()
    with pytest.raises(ValidationError, match="other timepoints of this trial"):
        services.imaging_requirements_copy(actor=world.admin, source=bl, targets=[other_trial_tp])
    with pytest.raises(ValidationError, match="other timepoints of this trial"):
        services.imaging_requirements_copy(actor=world.admin, source=bl, targets=[bl])
    with pytest.raises(PermissionDeniedError):
        services.imaging_requirements_copy(actor=world.qc, source=bl, targets=[w8])
    assert page_client(world.qc).post(f"/t/TRIAL-A/schedule/{bl.pk}/", {"copy": "1", "copy-targets": [w8.pk]}).status_code == 403
    assert page_client(world.admin_b).post(f"/t/TRIAL-A/schedule/{bl.pk}/",
                                           {"copy": "1", "copy-targets": [w8.pk]}).status_code == 404
    assert not w8.imaging_requirements.exists()
