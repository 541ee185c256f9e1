"""Serializers of the audit API."""
from rest_framework import serializers

from audit.models import AuditEvent


class AuditEventOutputSerializer(serializers.ModelSerializer):
    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)
    user = serializers.CharField(source="actor_username", read_only=True)
    object_type = serializers.CharField(source="target_type", read_only=True)
    object_id = serializers.CharField(source="target_id", read_only=True)
    object = serializers.CharField(source="target_repr", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "seq", "at", "user", "ip", "action", "trial", "object_type", "object_id", "object", "reason", "changes",
            "data", "hash", "prev_hash",
        ]
