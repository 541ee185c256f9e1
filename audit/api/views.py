"""Audit API: read-only, for trial admins and auditors."""
from __future__ import annotations

from rest_framework import mixins, viewsets

from audit.api.serializers import AuditEventOutputSerializer
from audit.filters import AuditEventFilterSet
from audit.selectors import audit_event_list_for_user


class AuditEventViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The audit trail of trials whose trail I may see. There is no way to change or delete an event."""

    serializer_class = AuditEventOutputSerializer
    filterset_class = AuditEventFilterSet
    lookup_field = "seq"

    def get_queryset(self):
        return audit_event_list_for_user(user=self.request.user)
