"""The query list's filters, shared by `GET /api/queries/` and the trial's queries page."""
from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from ictms.lib.filters import FlagFilter, IdFilter
from imaging.choices import AGE_BUCKETS, QueryCategory, QueryState
from imaging.models import Query
from trials.filters import TrialSiteFilterSet


class QueryStatesFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`state=open,answered`: each value must be a query state."""


class QueryFilterSet(TrialSiteFilterSet):
    trial_path = "visit__participant__trial"
    site_path = "visit__participant__site"

    state = QueryStatesFilter(field_name="state", choices=QueryState.choices, method="filter_state",
                              help_text="one or more states, comma-separated")
    category = django_filters.ChoiceFilter(choices=QueryCategory.choices)
    visit = IdFilter(field_name="visit_id", help_text="visit id")
    age = django_filters.ChoiceFilter(choices=[(k, f"{k} days") for k in AGE_BUCKETS], method="filter_age",
                                      help_text="age bucket in days")
    automatic = FlagFilter(field_name="is_automatic", help_text="raised by automated QC (1) or by an analyst (0)")

    class Meta:
        model = Query
        fields: list[str] = []

    def filter_state(self, qs: QuerySet[Query], name: str, value: list[str]) -> QuerySet[Query]:
        states = [s for s in value if s]  # "open," is "open"
        return qs.filter(state__in=states) if states else qs

    def filter_age(self, qs: QuerySet[Query], name: str, value: str) -> QuerySet[Query]:
        low, high = AGE_BUCKETS[value]
        today = timezone.localdate()
        qs = qs.filter(created_at__date__lte=today - dt.timedelta(days=low))
        if high is not None:
            qs = qs.filter(created_at__date__gte=today - dt.timedelta(days=high))
        return qs
