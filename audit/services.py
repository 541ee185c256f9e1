"""audit_record: the only writer of AuditEvent rows (called by every other app's services)."""
from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.checkpoint import record_checkpoint
from audit.models import GENESIS_HASH, AuditEvent
from ictms.lib.request_context import current_client_ip

# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x1C7A5A0D17


def jsonable(value: Any) -> Any:
    """Dates, decimals and UUIDs as the strings DjangoJSONEncoder gives, so hashes are stable."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Field values of `instance` (FKs by id) for a before/after diff."""
    out: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        out[name] = getattr(instance, field.attname if isinstance(field, models.Field) else name)
    return jsonable(out)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields whose value changed (None before for creations)."""
    before, after = jsonable(before), jsonable(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def _lock_chain() -> None:
    # Two concurrent transactions must not both append after the same predecessor (the chain
    # would fork). PostgreSQL: a transaction-scoped advisory lock. SQLite: transactions start
    # IMMEDIATE (settings), which already serialises writers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


# The relations followed from an event's object to its participant, nearest first: a series is
# about its study's participant, a lesion about its assignment's case's participant, and so on.
_TOWARDS_SUBJECT = ("participant", "visit", "submission", "study", "series", "instance", "case", "task", "assignment",
                    "query", "lesion")


def subject_of(target: models.Model | None, memo: dict[tuple[str, Any], int | None] | None = None,
               depth: int = 0) -> int | None:
    """The id of the participant `target` is about (itself, or through its relations), or None.

    `memo` remembers each object passed on the way, so a batch of events about the files of one
    submission looks the submission's participant up once.
    """
    if target is None or depth > 6:
        return None
    if target._meta.label_lower == "trials.participant":
        return target.pk
    memo = {} if memo is None else memo
    for name in _TOWARDS_SUBJECT:
        try:
            field = target._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if not (field.many_to_one or field.one_to_one) or not field.concrete:
            continue
        related_id = getattr(target, field.attname)
        if related_id is None or field.related_model is None:
            continue
        key = (field.related_model._meta.label_lower, related_id)
        if key not in memo:
            if key[0] == "trials.participant":
                memo[key] = related_id
            else:
                memo[key] = subject_of(getattr(target, name), memo, depth + 1)
        return memo[key]
    return None


def _action(action: str) -> str:
    """The stored string of a vocabulary action; ValueError for anything else (a typo forks the trail)."""
    if action not in AuditAction.values:
        raise ValueError(f"Unknown audit action {action!r}: add it to audit.actions.AuditAction.")
    return str(AuditAction(action).value)


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: AuditAction,
    target: models.Model | None = None,
    trial: Any = None,
    reason: str = "",
    changes: dict[str, list[Any]] | None = None,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event to the audit chain, inside the caller's transaction.

    `action` must be an AuditAction (ValueError otherwise, and nothing is written).
    """
    return audit_record_many([{"actor": actor, "action": action, "target": target, "trial": trial, "reason": reason,
                               "changes": changes, "data": data, "ip": ip}])[0]


def audit_record_many(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events (each given as audit_record's keyword arguments) in one go.

    One lock, one read of the chain's head and one INSERT for the lot: what a batch of
    uploaded files costs the audit trail.
    """
    if not events:
        return []
    actions = [_action(e["action"]) for e in events]  # all checked before anything is written
    # savepoint=False: inside the caller's transaction no savepoint is needed (an error rolls
    # the whole transaction back anyway); on its own it is a transaction of its own.
    with transaction.atomic(savepoint=False):
        _lock_chain()
        last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
        now = timezone.now()
        ambient_ip = current_client_ip()
        rows = []
        subjects: dict[tuple[str, Any], int | None] = {}
        for e, action in zip(events, actions, strict=True):
            actor, target, trial = e.get("actor"), e.get("target"), e.get("trial")
            if actor is not None and not getattr(actor, "is_authenticated", False):
                actor = None
            seq += 1
            event = AuditEvent(
                seq=seq,
                at=now,
                actor=actor,
                actor_username=actor.get_username() if actor else "",
                ip=e["ip"] if e.get("ip") is not None else ambient_ip,
                action=action,
                trial_id=getattr(trial, "pk", trial),
                target_type=target._meta.label_lower if target is not None else "",
                target_id=str(target.pk) if target is not None else "",
                target_repr=str(target)[:255] if target is not None else "",
                subject_id=e["subject"] if "subject" in e else subject_of(target, subjects),
                reason=e.get("reason") or "",
                changes=jsonable(e.get("changes") or {}),
                data=jsonable(e.get("data") or {}),
                prev_hash=prev_hash,
            )
            event.hash = event.compute_hash()
            prev_hash = event.hash
            rows.append(event)
        created = AuditEvent.objects.bulk_create(rows)
        # Once committed, the new head is checkpointed outside the database (audit.checkpoint).
        transaction.on_commit(lambda: record_checkpoint(seq, prev_hash))
        return created
