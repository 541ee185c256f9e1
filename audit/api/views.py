"""Audit API: read-only, for trial admins and auditors."""
from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets

from audit.api.serializers import AuditEventOutputSerializer
from audit.selectors import AuditFilter, audit_event_list_for_user


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@extend_schema(parameters=[
    OpenApiParameter("trial", str, description="trial code"),
    OpenApiParameter("object", str, description="'type:id' (e.g. trials.participant:12) or text in the object's name"),
    OpenApiParameter("user", str), OpenApiParameter("action", str, description="action or prefix (e.g. membership.)"),
    OpenApiParameter("from", dt.date), OpenApiParameter("to", dt.date),
])
class AuditEventViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The audit trail of trials whose trail I may see. There is no way to change or delete an event."""

    serializer_class = AuditEventOutputSerializer
    lookup_field = "seq"

    def get_queryset(self):
        p = self.request.query_params
        qs = audit_event_list_for_user(
            user=self.request.user,
            filters=AuditFilter(object=p.get("object", ""), user=p.get("user", ""), action=p.get("action", ""),
                                date_from=_date(p.get("from")), date_to=_date(p.get("to"))),
        )
        return qs.filter(trial__code=p["trial"]) if p.get("trial") else qs
