"""The audit trail's filters, shared by `GET /api/audit-events/`, the trail page and its CSV export.

A wrong value (a date that is not one) is an error: the API answers 400, the page shows it and
lists nothing, and the export exports nothing. Ignoring it would widen an export silently.
"""
from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from trials.filters import TrialFilterSet

# Query parameters named after Python keywords: the filters are declared as date_from / date_to.
PARAMETER_NAMES = {"date_from": "from", "date_to": "to"}
ISO_DATE = "%Y-%m-%d"


class AuditEventFilterSet(TrialFilterSet):
    object = django_filters.CharFilter(method="filter_object",
                                       help_text="'type:id' (e.g. trials.participant:12) or text in the object's name")
    user = django_filters.CharFilter(field_name="actor_username", lookup_expr="iexact", help_text="username")
    action = django_filters.CharFilter(field_name="action", lookup_expr="startswith",
                                       help_text="action or prefix (e.g. membership.)")
    # ISO dates only, as before: Django's default formats would also read 02/01/2024, as 1 February.
    date_from = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", input_formats=[ISO_DATE],
                                          help_text="first day (YYYY-MM-DD)")
    date_to = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", input_formats=[ISO_DATE],
                                        help_text="last day (YYYY-MM-DD)")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_object(self, qs: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        target_type, sep, target_id = value.partition(":")
        if sep and target_id:
            return qs.filter(target_type=target_type, target_id=target_id)
        return qs.filter(Q(target_repr__icontains=value) | Q(target_type__icontains=value))

    def applied(self) -> dict[str, str]:
        """The filters given, as the export's audit event records them (call after is_valid())."""
        names = {parameter: name for name, parameter in PARAMETER_NAMES.items()}
        return {names.get(k, k): str(v) for k, v in self.form.cleaned_data.items() if v not in (None, "")}


for _name, _parameter in PARAMETER_NAMES.items():
    AuditEventFilterSet.base_filters[_parameter] = AuditEventFilterSet.base_filters.pop(_name)
