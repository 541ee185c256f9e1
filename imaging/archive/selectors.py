"""Reads of the archive (studies, series, instances), scoped to the participants the caller may see,
and for blinded readers to the visits of their open or signed read tasks (imaging.archive.read_access)."""
from __future__ import annotations

from django.db.models import Count, QuerySet

from ictms.lib.errors import NotFoundError
from ictms.lib.users import AnyUser
from imaging.archive.read_access import read_scope
from imaging.models import (
    Instance,
    Series,
    Study,
)
from trials.models import Visit
from trials.selectors import participant_scope


def study_list_for_user(*, user: AnyUser, visit: Visit | None = None) -> QuerySet[Study]:
    qs = Study.objects.filter(participant_scope(user=user, prefix="participant__") | read_scope(user=user)).select_related(
        "participant__trial", "participant__site", "visit__timepoint"
    )
    if visit is not None:
        qs = qs.filter(visit=visit)
    return qs.order_by("visit__timepoint__order", "study_date", "id")


def series_list_for_user(*, user: AnyUser, visit: Visit | None = None, study: Study | None = None) -> QuerySet[Series]:
    qs = (
        Series.objects.filter(participant_scope(user=user, prefix="study__participant__") | read_scope(user=user, prefix="study__"))
        .select_related("study__participant__trial", "study__participant__site", "study__visit__timepoint")
        .annotate(instance_count=Count("instances"))
    )
    if visit is not None:
        qs = qs.filter(study__visit=visit)
    if study is not None:
        qs = qs.filter(study=study)
    return qs.order_by("study__visit__timepoint__order", "study_id", "series_number", "id")


def series_get_for_user(*, user: AnyUser, pk: int) -> Series:
    series = series_list_for_user(user=user).filter(pk=pk).first()
    if series is None:
        raise NotFoundError("No such series.")
    return series


def instance_list_for_user(*, user: AnyUser, series: Series | None = None) -> QuerySet[Instance]:
    qs = Instance.objects.filter(
        participant_scope(user=user, prefix="series__study__participant__") | read_scope(user=user, prefix="series__study__")
    ).select_related(
        "series__study"
    )
    if series is not None:
        qs = qs.filter(series=series)
    return qs.order_by("series_id", "instance_number", "id")


def instance_get_for_user(*, user: AnyUser, pk: int) -> Instance:
    instance = instance_list_for_user(user=user).filter(pk=pk).first()
    if instance is None:
        raise NotFoundError("No such instance.")
    return instance
