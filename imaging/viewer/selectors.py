"""Reads for the viewer: caliper measurements, scoped to the participants the caller may see."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from ictms.lib.users import AnyUser
from imaging.archive.read_access import read_scope
from imaging.models import (
    Instance,
    Measurement,
    Series,
)
from trials.selectors import participant_scope


def measurement_list_for_user(*, user: AnyUser, instance: Instance | None = None, series: Series | None = None) -> QuerySet[Measurement]:
    # A reader sees only their own measurements on the images they may open (never QC's or another reader's).
    qs = Measurement.objects.filter(
        participant_scope(user=user, prefix="instance__series__study__participant__")
        | (read_scope(user=user, prefix="instance__series__study__") & Q(created_by_id=user.pk)),
        is_deleted=False,
    ).select_related("instance", "created_by")
    if instance is not None:
        qs = qs.filter(instance=instance)
    if series is not None:
        qs = qs.filter(instance__series=series)
    return qs.order_by("instance_id", "created_at")
