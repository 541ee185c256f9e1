"""Filters of the viewer API: series of a visit or participant, instances of a series, measurements."""
from __future__ import annotations

import django_filters
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from ictms.lib.errors import NotFoundError
from ictms.lib.filters import IdFilter
from imaging.archive.read_access import read_visit_scope
from imaging.models import Instance, Measurement, Series
from trials.models import Visit
from trials.selectors import visit_get_for_user


class SeriesFilterSet(django_filters.FilterSet):
    visit = IdFilter(method="filter_visit", help_text="visit id")
    participant = IdFilter(field_name="study__participant_id", help_text="participant id (every visit)")
    study = IdFilter(field_name="study_id", help_text="study id")

    class Meta:
        model = Series
        fields: list[str] = []

    def filter_visit(self, qs: QuerySet[Series], name: str, value: int) -> QuerySet[Series]:
        # A visit the caller may not see answers 404, as the visit itself would. A blinded reader sees
        # no visit by participant, only those of their own open or signed read tasks.
        user = getattr(self.request, "user", None) or AnonymousUser()
        try:
            visit = visit_get_for_user(user=user, pk=value)
        except NotFoundError:
            if not Visit.objects.filter(read_visit_scope(user=user), pk=value).exists():
                raise
            return qs.filter(study__visit_id=value)
        return qs.filter(study__visit=visit)


class InstanceFilterSet(django_filters.FilterSet):
    series = IdFilter(field_name="series_id", help_text="series id (the list is then in stack order)")

    class Meta:
        model = Instance
        fields: list[str] = []


class MeasurementFilterSet(django_filters.FilterSet):
    instance = IdFilter(field_name="instance_id", help_text="instance id")
    series = IdFilter(field_name="instance__series_id", help_text="series id")

    class Meta:
        model = Measurement
        fields: list[str] = []
