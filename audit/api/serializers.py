"""Serializers of the audit API."""
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.blinding import Blinder
from audit.models import AuditEvent


class AuditEventOutputSerializer(serializers.ModelSerializer):
    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)
    user = serializers.CharField(source="actor_username", read_only=True)
    object_type = serializers.CharField(source="target_type", read_only=True)
    object_id = serializers.CharField(source="target_id", read_only=True)
    object = serializers.CharField(source="target_repr", read_only=True)
    # What the viewer may not see (the treatment arm, for a blinded auditor) is blinded: audit.blinding.
    changes = serializers.SerializerMethodField()
    data = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "seq", "at", "user", "ip", "action", "trial", "object_type", "object_id", "object", "reason", "changes",
            "data", "hash", "prev_hash",
        ]

    def _blinder(self) -> Blinder:
        blinder = self.context.get("blinder")
        if blinder is None:
            blinder = self.context["blinder"] = Blinder(self.context["request"].user)
        return blinder

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, event: AuditEvent) -> dict[str, Any]:
        return self._blinder().changes(event)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_data(self, event: AuditEvent) -> dict[str, Any]:
        return self._blinder().data(event)
