"""Measurement services: lengths from the file's spacing, who may measure, history and audit."""
from __future__ import annotations

import math
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from imaging.models import Measurement
from imaging.viewer.measurements import (
    can_measure,
    measurement_create,
    measurement_delete,
    measurement_update,
)
from tests.imaging import render_samples as samples
from tests.imaging.factories import make_series
from tests.trials.factories import visit

pytestmark = pytest.mark.django_db


def first_instance(series):
    return series.instances.order_by("instance_number").first()


@pytest.fixture
def ct(world):
    return first_instance(make_series(visit(world.participant, "BL"), n=2, spacing=0.7))


def test_a_caliper_length_comes_from_pixel_spacing(world, ct):
    m = measurement_create(actor=world.qc, instance=ct, points=[[10, 10], [40, 50]])
    assert m.length_mm == Decimal(str(round(math.hypot(30 * 0.7, 40 * 0.7), 2)))
    assert m.spacing_source == "PixelSpacing"
    assert m.short_axis_mm is None and m.created_by == world.qc


def test_non_square_pixels_scale_each_direction(world):
    ds = samples.mr_unsigned()
    ds.PixelSpacing = [0.5, 0.8]  # rows 0.5 mm apart, columns 0.8 mm apart
    instance = first_instance(make_series(visit(world.participant, "BL"), datasets=[ds]))
    across = measurement_create(actor=world.qc, instance=instance, points=[[0, 0], [10, 0]])
    down = measurement_create(actor=world.qc, instance=instance, points=[[0, 0], [0, 10]])
    assert across.length_mm == Decimal("8.00") and down.length_mm == Decimal("5.00")


def test_imager_pixel_spacing_is_used_and_recorded_as_such(world):
    series = make_series(visit(world.participant, "BL"), n=1, spacing=0.2, spacing_source="ImagerPixelSpacing")
    m = measurement_create(actor=world.qc, instance=first_instance(series), points=[[0, 0], [50, 0]])
    assert m.length_mm == Decimal("10.00") and m.spacing_source == "ImagerPixelSpacing"


def test_without_spacing_no_length_in_mm_is_recorded(world):
    series = make_series(visit(world.participant, "BL"), n=1, spacing=None)
    m = measurement_create(actor=world.qc, instance=first_instance(series), points=[[0, 0], [50, 0]])
    assert m.length_mm is None and m.spacing_source == ""


def test_a_bidirectional_measurement_records_both_axes(world, ct):
    m = measurement_create(actor=world.qc, instance=ct, kind="bidirectional",
                           points=[[10, 30], [50, 30], [30, 20], [30, 36]])
    assert m.length_mm == Decimal("28.00") and m.short_axis_mm == Decimal("11.20")


def test_a_short_axis_that_is_not_perpendicular_is_refused(world, ct):
    with pytest.raises(ValidationError, match="perpendicular"):
        measurement_create(actor=world.qc, instance=ct, kind="bidirectional",
                           points=[[10, 30], [50, 30], [30, 20], [40, 36]])


@pytest.mark.parametrize("points,message", [
    ([[0, 0]], "2 points"),
    ([[0, 0], [10, 10], [3, 3]], "2 points"),
    ([[0, 0], [100, 10]], "outside"),
    ([[-3, 0], [10, 10]], "outside"),
    ([[5, 5], [5, 5]], "must differ"),
    ([[0, "x"], [5, 5]], "numbers"),
])
def test_bad_points_are_refused(world, ct, points, message):
    with pytest.raises(ValidationError, match=message):
        measurement_create(actor=world.qc, instance=ct, points=points)


def test_a_frame_outside_the_instance_is_refused(world, ct):
    with pytest.raises(ValidationError, match="frame"):
        measurement_create(actor=world.qc, instance=ct, frame=1, points=[[0, 0], [5, 5]])


def test_qc_and_trial_admins_may_measure_but_not_site_sponsor_or_auditor(world, ct):
    assert can_measure(world.qc, ct) and can_measure(world.admin, ct)
    for persona in ("coordinator", "sponsor", "auditor"):
        assert not can_measure(world.user(persona), ct)
        with pytest.raises(PermissionDeniedError):
            measurement_create(actor=world.user(persona), instance=ct, points=[[0, 0], [5, 5]])


@pytest.mark.parametrize("persona", ["other_coordinator", "coordinator_b", "admin_b", "reader", "outsider"])
def test_an_image_the_actor_cannot_see_is_not_found(world, ct, persona):
    with pytest.raises(NotFoundError):
        measurement_create(actor=world.user(persona), instance=ct, points=[[0, 0], [5, 5]])


def test_moving_recomputes_the_length_and_is_audited_with_before_and_after(world, ct):
    m = measurement_create(actor=world.qc, instance=ct, points=[[0, 0], [10, 0]])
    m = measurement_update(actor=world.qc, measurement=m, points=[[0, 0], [20, 0]], label="T1")
    assert m.length_mm == Decimal("14.00") and m.label == "T1"
    event = AuditEvent.objects.filter(action="measurement.update").get()
    assert event.changes["length_mm"] == ["7.00", "14.00"]
    assert event.changes["points"] == [[[0.0, 0.0], [10.0, 0.0]], [[0.0, 0.0], [20.0, 0.0]]]
    assert event.actor == world.qc and event.trial_id == world.trial.pk
    history = Measurement.history.filter(id=m.pk).order_by("history_id")
    assert [h.history_type for h in history] == ["+", "~"]
    assert all(h.history_user == world.qc for h in history)
    assert history.last().length_mm == Decimal("14.00")


def test_only_the_author_moves_or_deletes_a_measurement(world, ct):
    m = measurement_create(actor=world.qc, instance=ct, points=[[0, 0], [10, 0]])
    with pytest.raises(PermissionDeniedError):
        measurement_update(actor=world.admin, measurement=m, points=[[0, 0], [20, 0]])
    with pytest.raises(PermissionDeniedError):
        measurement_delete(actor=world.admin, measurement=m)


def test_delete_is_soft_audited_and_final(world, ct):
    m = measurement_create(actor=world.qc, instance=ct, points=[[0, 0], [10, 0]])
    measurement_delete(actor=world.qc, measurement=m, reason="wrong lesion")
    m.refresh_from_db()
    assert m.is_deleted
    event = AuditEvent.objects.get(action="measurement.delete")
    assert event.reason == "wrong lesion" and event.changes == {"is_deleted": [False, True]}
    assert Measurement.history.filter(id=m.pk).latest().history_change_reason == "wrong lesion"
    with pytest.raises(DomainError):
        measurement_delete(actor=world.qc, measurement=m)
    with pytest.raises(DomainError):
        measurement_update(actor=world.qc, measurement=m, points=[[0, 0], [3, 3]])


def test_creation_is_audited_in_the_trial(world, ct):
    m = measurement_create(actor=world.admin, instance=ct, points=[[1, 1], [11, 1]], label="L1")
    event = AuditEvent.objects.get(action="measurement.create")
    assert event.target_id == str(m.pk) and event.trial_id == world.trial.pk
    assert event.changes["length_mm"] == [None, "7.00"] and event.changes["instance"] == [None, ct.pk]
