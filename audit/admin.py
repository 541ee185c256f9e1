"""Read-only admin for audit events: operators may look, nobody may change or delete."""
from typing import Any

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "at", "actor_username", "action", "target_repr", "trial", "ip")
    list_filter = ("action",)
    search_fields = ("target_repr", "actor_username", "action")
    actions = None

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
