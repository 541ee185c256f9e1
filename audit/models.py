"""AuditEvent: who did what to which object, when, from where, why, with before/after values.

The table is insert-only. Each event stores a keyed hash (HMAC-SHA-256 with AUDIT_HMAC_KEY, a key
kept outside the database) of its canonical content and the hash of its predecessor, so any row
changed or removed directly in the database breaks the chain, and nobody without the key can
re-hash it into a consistent one (`manage.py verify_audit`; the newest rows are covered by the
checkpoints of audit.checkpoint). It deliberately has no HistoricalRecords: it is itself the log.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64
# What the trail calls the application itself (Celery tasks, automated QC, scheduled jobs).
SYSTEM_ACTOR = "system"


class AuditTamperError(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AuditTamperError("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditTamperError("Audit events cannot be deleted.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AuditTamperError("Audit events cannot be changed.")


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    at = models.DateTimeField(db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    action = models.CharField(max_length=64, db_index=True, editable=False)
    trial = models.ForeignKey(
        "trials.Trial", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    target_type = models.CharField(max_length=100, blank=True, editable=False)
    target_id = models.CharField(max_length=64, blank=True, editable=False)
    target_repr = models.CharField(max_length=255, blank=True, editable=False)
    subject_id = models.BigIntegerField(
        null=True, blank=True, editable=False,
        help_text="The participant (id) the event is about, directly or through a visit, submission, file, series, "
                  "query or read: what 'everything about a subject' finds.")
    reason = models.TextField(blank=True, editable=False)
    changes = models.JSONField(default=dict, blank=True, editable=False)
    data = models.JSONField(default=dict, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["trial", "at"]),
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["trial", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditTamperError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditTamperError("Audit events cannot be deleted.")

    @property
    def action_label(self) -> str:
        """The action in words ("Automated QC run"), as the trail page and its export show it."""
        from audit.actions import AuditAction

        return str(AuditAction(self.action).label) if self.action in AuditAction.values else self.action

    @property
    def actor_label(self) -> str:
        """Who acted, as every view of the trail names them: the username, or "system" for the application."""
        return self.actor_username or SYSTEM_ACTOR

    def canonical(self) -> bytes:
        """The bytes the hash covers: every field but the hash itself, in a fixed JSON form."""
        at = self.at.astimezone(dt.UTC).isoformat()
        content = {
            "seq": self.seq,
            "at": at,
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "ip": self.ip,
            "action": self.action,
            "trial_id": self.trial_id,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "target_repr": self.target_repr,
            "reason": self.reason,
            "changes": self.changes,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }
        if self.subject_id is not None:  # events written before subjects were recorded hash as they did
            content["subject_id"] = self.subject_id
        return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        """HMAC-SHA-256 of the canonical content with the audit key (settings.AUDIT_HMAC_KEY)."""
        return hmac.new(settings.AUDIT_HMAC_KEY.encode(), self.canonical(), hashlib.sha256).hexdigest()

    def unkeyed_hash(self) -> str:
        """The plain SHA-256 that events written before keyed hashing carry (see AUDIT_UNKEYED_UNTIL)."""
        return hashlib.sha256(self.canonical()).hexdigest()
