"""Filters of the intake API: the submission list and a submission's files."""
from __future__ import annotations

import django_filters

from ictms.lib.filters import IdFilter
from imaging.choices import FileStatus
from imaging.models import Submission, SubmissionFile


class SubmissionFilterSet(django_filters.FilterSet):
    visit = IdFilter(field_name="visit_id", help_text="visit id")

    class Meta:
        model = Submission
        fields: list[str] = []


class SubmissionFileFilterSet(django_filters.FilterSet):
    """`GET /api/submissions/{id}/files/`: the upload page polls it for files finished since its last look."""

    since = IdFilter(field_name="id", lookup_expr="gt", help_text="only files with a larger id")
    status = django_filters.ChoiceFilter(choices=FileStatus.choices)
    processed_after = django_filters.IsoDateTimeFilter(field_name="processed_at", lookup_expr="gte",
                                                       help_text="ISO time: files finished since")

    class Meta:
        model = SubmissionFile
        fields: list[str] = []
