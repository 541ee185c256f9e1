"""Writes of measurements: calipers and bidirectional measurements drawn in the viewer.

The browser sends only where the endpoints are (image pixels of one frame of one instance);
the length in mm is always computed here from the stored file's pixel spacing
(imaging.viewer.render.pixel_spacing: PixelSpacing, else ImagerPixelSpacing, else calibrated
ultrasound regions), so a client can never record a length the image does not support.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from pydicom import dcmread

from audit.actions import AuditAction
from audit.services import audit_record, diff, snapshot
from ictms.lib.errors import DomainError, PermissionDeniedError
from ictms.lib.history import stamp
from ictms.lib.users import AnyUser
from imaging.archive.read_access import measure_scope, measurement_refusal
from imaging.archive.selectors import instance_get_for_user
from imaging.archive.storage import local_instance_path
from imaging.choices import MeasurementKind
from imaging.models import Instance, Measurement, Study
from imaging.viewer import render

MEASUREMENT_FIELDS = (
    "instance", "frame", "kind", "points", "length_mm", "short_axis_mm", "spacing_source", "label", "is_deleted",
)
# Drawn perpendicular in the viewer; a few degrees of slack absorbs rounding of dragged points.
PERPENDICULAR_TOLERANCE_DEG = 3.0
# Points may sit on the outer edge of the last pixel (x == columns), not beyond.
EDGE_TOLERANCE_PX = 0.5
# Lengths measured from ImagerPixelSpacing are at the detector plane: the viewer warns.
UNCALIBRATED_SOURCES = frozenset({"ImagerPixelSpacing"})
NO_SPACING_MESSAGE = "This image has no pixel spacing, so no length in mm can be given (shown in pixels)."
IMAGER_SPACING_MESSAGE = (
    "Length from ImagerPixelSpacing: measured at the detector, not calibrated in the patient (magnification not corrected)."
)


def can_measure(user: AnyUser, instance: Instance) -> bool:
    """Whether `user` may draw measurements on `instance` (and move or delete their own).

    QC analysts and trial admins of the instance's trial; readers on the timepoints they are
    reading (their own read tasks, ready or in progress: imaging.archive.read_access.measure_scope),
    never on a timepoint they have signed nor on another visit. Every write below asks this function.
    """
    if not (user and user.is_authenticated and user.is_active):
        return False
    trial = instance.series.study.participant.trial
    if user.has_perm("trials.perform_qc", trial) or user.has_perm("trials.manage_trial", trial):
        return True
    return Study.objects.filter(measure_scope(user=user), pk=instance.series.study_id).exists()


def measurement_tools_shown(*, access: Any) -> bool:
    """A hint for pages (with a trials.selectors.TrialAccess): show the tools at all.

    Only a hint: the services decide per instance with `can_measure`.
    """
    return access.can("perform_qc") or access.can("manage_trial")


def spacing_message(source: str | None) -> str:
    """What the viewer says next to a length measured with this spacing source ("" if nothing)."""
    if not source:
        return NO_SPACING_MESSAGE
    if source in UNCALIBRATED_SOURCES:
        return IMAGER_SPACING_MESSAGE
    return ""


# --- helpers ----------------------------------------------------------------------------------


def _visible_instance(actor: AnyUser, instance: Instance) -> Instance:
    # 404 before 403: an instance the actor cannot see must not be distinguishable from none.
    return instance_get_for_user(user=actor, pk=instance.pk)


def _require_measure(actor: AnyUser, instance: Instance) -> None:
    if not can_measure(actor, instance):
        raise PermissionDeniedError("You may not measure on this image.")


def _require_author(actor: AnyUser, measurement: Measurement) -> None:
    # A measurement is its author's statement (it may become a RECIST lesion measurement), so
    # nobody else moves or deletes it.
    if measurement.created_by_id != actor.pk:
        raise PermissionDeniedError("Only the person who drew a measurement may change it.")


def _save(measurement: Measurement, actor: AnyUser, reason: str = "", **kwargs: Any) -> None:
    """Save with `actor` (and `reason`) on the simple-history row the save writes."""
    stamp(measurement, actor, reason)
    measurement.save(**kwargs)


def instance_spacing(instance: Instance, frame: int) -> render.PixelSpacing:
    """The pixel spacing of one frame, read from the stored de-identified file."""
    with local_instance_path(instance.storage_key) as path:
        ds = dcmread(path, stop_before_pixels=True)
    return render.pixel_spacing(ds, frame)


def _clean_points(kind: str, points: Any, instance: Instance) -> list[list[float]]:
    expected = 4 if kind == MeasurementKind.BIDIRECTIONAL else 2
    if not isinstance(points, list | tuple) or len(points) != expected:
        raise ValidationError({"points": f"A {kind} measurement has {expected} points [x, y]."})
    cleaned: list[list[float]] = []
    width = float(instance.columns) if instance.columns else math.inf
    height = float(instance.rows) if instance.rows else math.inf
    for point in points:
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise ValidationError({"points": "Each point is [x, y] in image pixels."})
        try:
            x, y = float(point[0]), float(point[1])
        except (TypeError, ValueError):
            raise ValidationError({"points": "Point coordinates must be numbers."}) from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValidationError({"points": "Point coordinates must be finite numbers."})
        if not (-EDGE_TOLERANCE_PX <= x <= width + EDGE_TOLERANCE_PX and -EDGE_TOLERANCE_PX <= y <= height + EDGE_TOLERANCE_PX):
            raise ValidationError({"points": "A point lies outside the image."})
        cleaned.append([round(x, 3), round(y, 3)])
    return cleaned


def _pixel_angle(long_axis: list[list[float]], short_axis: list[list[float]]) -> float:
    (ax1, ay1), (ax2, ay2) = long_axis
    (bx1, by1), (bx2, by2) = short_axis
    ax, ay, bx, by = ax2 - ax1, ay2 - ay1, bx2 - bx1, by2 - by1
    norm = math.hypot(ax, ay) * math.hypot(bx, by)
    if not norm:
        return 0.0
    return math.degrees(math.acos(min(abs(ax * bx + ay * by) / norm, 1.0)))


def _mm(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _compute(measurement: Measurement) -> None:
    """Set length_mm, short_axis_mm and spacing_source from the points and the file's spacing."""
    spacing = instance_spacing(measurement.instance, measurement.frame)
    points = measurement.points
    measurement.spacing_source = spacing.source or ""
    if measurement.kind == MeasurementKind.LINE:
        if points[0] == points[1]:
            raise ValidationError({"points": "The two ends of a caliper must differ."})
        length = render.measure_mm(tuple(points[0]), tuple(points[1]), spacing)
        measurement.length_mm, measurement.short_axis_mm = _mm(length), None
        return
    long_axis, short_axis = points[:2], points[2:]
    if long_axis[0] == long_axis[1] or short_axis[0] == short_axis[1]:
        raise ValidationError({"points": "Both axes need two distinct ends."})
    both = render.bidirectional_mm((tuple(long_axis[0]), tuple(long_axis[1])),
                                   (tuple(short_axis[0]), tuple(short_axis[1])), spacing)
    angle = both.angle_deg if both is not None else _pixel_angle(long_axis, short_axis)
    if abs(angle - 90.0) > PERPENDICULAR_TOLERANCE_DEG:
        raise ValidationError({"points": f"The short axis must be perpendicular to the long axis (it is at {angle:.1f}°)."})
    if both is None:
        measurement.length_mm = measurement.short_axis_mm = None
    else:
        measurement.length_mm, measurement.short_axis_mm = _mm(both.long_mm), _mm(both.short_mm)


def _trial_of(instance: Instance) -> Any:
    return instance.series.study.participant.trial


# --- services ---------------------------------------------------------------------------------


@transaction.atomic
def measurement_create(
    *, actor: AnyUser, instance: Instance, frame: int = 0, kind: str = MeasurementKind.LINE,
    points: Any, label: str = "",
) -> Measurement:
    """Record a caliper (2 points) or a bidirectional measurement (long axis then short axis: 4 points).

    The lengths come from the file's pixel spacing; with none, they stay empty and
    spacing_source is "" (the viewer shows pixels). Raises NotFoundError (instance not
    visible), PermissionDeniedError (may not measure), ValidationError (bad frame, kind or points).
    """
    instance = _visible_instance(actor, instance)
    _require_measure(actor, instance)
    if kind not in MeasurementKind.values:
        raise ValidationError({"kind": f"Unknown measurement kind {kind!r}."})
    if not isinstance(frame, int) or not 0 <= frame < max(instance.number_of_frames, 1):
        raise ValidationError({"frame": f"The image has {instance.number_of_frames} frame(s), counted from 0."})
    measurement = Measurement(
        instance=instance, frame=frame, kind=kind, points=_clean_points(kind, points, instance),
        label=(label or "").strip(), created_by=actor if isinstance(actor, User) else None,
    )
    _compute(measurement)
    measurement.full_clean()
    _save(measurement, actor)
    audit_record(actor=actor, action=AuditAction.MEASUREMENT_CREATE, target=measurement, trial=_trial_of(instance),
                 changes=diff({}, snapshot(measurement, MEASUREMENT_FIELDS)))
    return measurement


@transaction.atomic
def measurement_update(
    *, actor: AnyUser, measurement: Measurement, points: Any = None, label: str | None = None,
) -> Measurement:
    """Move a measurement's points and/or change its label; the lengths are computed again.

    Raises NotFoundError, PermissionDeniedError (not the author, or may not measure),
    DomainError (deleted), ValidationError.
    """
    instance = _visible_instance(actor, measurement.instance)
    measurement = Measurement.objects.select_for_update().get(pk=measurement.pk)
    measurement.instance = instance
    _require_author(actor, measurement)
    if measurement.is_deleted:
        raise DomainError("The measurement was deleted.")
    # A read's lock (409) before the right to measure: a signed read's images take no measurements either.
    refusal = measurement_refusal(measurement.pk, deleting=False) if points is not None else ""
    if refusal:
        raise DomainError(refusal)
    _require_measure(actor, instance)
    before = snapshot(measurement, MEASUREMENT_FIELDS)
    if points is not None:
        measurement.points = _clean_points(measurement.kind, points, instance)
    if label is not None:
        measurement.label = label.strip()
    _compute(measurement)
    changes = diff(before, snapshot(measurement, MEASUREMENT_FIELDS))
    if changes:
        measurement.full_clean()
        _save(measurement, actor)
        audit_record(actor=actor, action=AuditAction.MEASUREMENT_UPDATE, target=measurement, trial=_trial_of(instance),
                     changes=changes)
    return measurement


@transaction.atomic
def measurement_delete(*, actor: AnyUser, measurement: Measurement, reason: str = "") -> Measurement:
    """Soft-delete: the row stays (with its history) but no list shows it any more.

    Raises NotFoundError, PermissionDeniedError, DomainError (already deleted).
    """
    instance = _visible_instance(actor, measurement.instance)
    measurement = Measurement.objects.select_for_update().get(pk=measurement.pk)
    _require_author(actor, measurement)
    if measurement.is_deleted:
        raise DomainError("The measurement was already deleted.")
    refusal = measurement_refusal(measurement.pk, deleting=True)
    if refusal:
        raise DomainError(refusal)
    _require_measure(actor, instance)
    measurement.is_deleted = True
    _save(measurement, actor, reason, update_fields=["is_deleted", "updated_at"])
    audit_record(actor=actor, action=AuditAction.MEASUREMENT_DELETE, target=measurement, trial=_trial_of(instance),
                 reason=reason, changes={"is_deleted": [False, True]})
    return measurement
