"""The QC queue's filters, shared by `GET /api/qc/visits/` and the trial's QC queue page."""
from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from imaging.models import Series
from trials.filters import TrialSiteFilterSet
from trials.models import Visit


class QcQueueFilterSet(TrialSiteFilterSet):
    trial_path = "participant__trial"
    site_path = "participant__site"

    # Free text: a series keeps the modality its DICOM header gives, which need not be one we list.
    modality = django_filters.CharFilter(method="filter_modality",
                                         help_text="visits with at least one series of this modality")

    class Meta:
        model = Visit
        fields: list[str] = []

    def filter_modality(self, qs: QuerySet[Visit], name: str, value: str) -> QuerySet[Visit]:
        # A subquery, not a join: joining series would repeat the visit once per matching series.
        return qs.filter(pk__in=Series.objects.filter(modality=value).values("study__visit_id"))
