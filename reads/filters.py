"""List filters of the reads API: `?trial=CODE` on cases and tasks, `?state=` on tasks."""
from __future__ import annotations

import django_filters

from reads.choices import ReadTaskState
from reads.models import ReadCase, ReadTask
from trials.filters import TrialFilterSet


class ReadCaseFilterSet(TrialFilterSet):
    class Meta:
        model = ReadCase
        fields: list[str] = []


class ReadTaskFilterSet(TrialFilterSet):
    trial_path = "assignment__case__trial"

    state = django_filters.ChoiceFilter(choices=ReadTaskState.choices)

    class Meta:
        model = ReadTask
        fields: list[str] = []
