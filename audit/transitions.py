"""transition(): the one function that moves a row through its state machine.

It checks the machine's table (409 when the move is not allowed), sets the state and any fields
that move with it, stamps simple-history with the actor and reason, saves, and appends the audit
event in the caller's transaction. Services lock the row (`select_for_update`) before calling it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from audit.actions import AuditAction
from audit.services import audit_record, jsonable
from ictms.lib.history import stamp
from ictms.lib.states import StateMachine


def transition(
    machine: StateMachine,
    obj: models.Model,
    target: str,
    *,
    actor: Any,
    trial: Any,
    reason: str = "",
    fields: Mapping[str, Any] | None = None,
    bookkeeping: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    action: AuditAction | None = None,
    audit: bool = True,
    clean: bool = False,
) -> models.Model:
    """Move `obj` to `target` under `machine`; set `fields` with it; audit it. Raises InvalidTransition.

    `action` overrides the machine's audit action for moves with a business name of their own
    (e.g. "read_task.sign" rather than "read_task.state_change"). `audit=False` is for callers
    that record many moves with one `audit_record_many` call (batches of files).
    `bookkeeping` fields are saved with the move but left out of the audit changes: timestamps
    and who-did-it columns that the audit event records anyway (its time and actor).
    `clean=True` runs the model's validation first, for moves that carry user-supplied values.
    """
    current = getattr(obj, machine.field)
    machine.ensure(current, target)
    changes: dict[str, list[Any]] = {machine.field: [str(current), str(target)]}
    setattr(obj, machine.field, target)
    for name, value in (fields or {}).items():
        before = getattr(obj, name)
        setattr(obj, name, value)
        if jsonable(before) != jsonable(value):
            changes[name] = [before, value]
    for name, value in (bookkeeping or {}).items():
        setattr(obj, name, value)
    if clean:
        obj.full_clean()
    stamp(obj, actor, reason)
    update_fields = [machine.field, *(fields or {}), *(bookkeeping or {})]
    obj.save(update_fields=update_fields)
    if audit:
        audit_record(
            actor=actor,
            action=AuditAction(action or machine.audit_action),
            target=obj,
            trial=trial,
            reason=reason,
            changes=changes,
            data=dict(data or {}),
        )
    return obj
