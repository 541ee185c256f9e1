"""What happens to an account whatever path changed it: password changes and deactivation revoke the
API token; a password change is audited; a django-axes lockout revokes the token.

A user's save is the one place a password change is seen: the password change page, the reset
link, the admin, a service or the shell all end in it. A hash that changes without a new password
(Django re-hashing on sign-in with a stronger hasher: `save(update_fields=["password"])` with no
raw password pending) is not a change. Setting the first password of an account created without
one (an empty hash, e.g. create then set_password) is part of its creation, not a change.

The reset-confirm page marks its request (`password_reset_completing`), so the password it sets is
audited as a completed reset rather than as a change.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from simple_history.models import HistoricalRecords

from audit.actions import AuditAction
from audit.services import audit_record
from ictms.lib.lockout import new_lock_scope
from ictms.tokens import RevokeReason, token_revoke_for

User = get_user_model()

_resetting: ContextVar[bool] = ContextVar("ictms_password_resetting", default=False)


@contextmanager
def password_reset_completing() -> Iterator[None]:
    """Within this block a password change is the completion of a reset (the reset-confirm page)."""
    marker = _resetting.set(True)
    try:
        yield
    finally:
        _resetting.reset(marker)


def _request_user() -> Any:
    # The acting user of the request being served, as simple_history's middleware keeps it (None
    # outside a request: shell, management commands, tasks).
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


@receiver(pre_save, sender=User, dispatch_uid="ictms.account_changes.pre")
def _remember_changes(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    instance._ictms_account_changes = ()
    if instance.pk is None or kwargs.get("raw"):
        return
    fields = set(update_fields) if update_fields is not None else None
    if fields is not None and not fields & {"password", "is_active"}:
        return  # e.g. update_last_login: nothing to compare, no query
    old = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if old is None:
        return
    changes = []
    rehash = fields == {"password"} and getattr(instance, "_password", None) is None
    if old["password"] and old["password"] != instance.password and not rehash:
        changes.append("password")
    if old["is_active"] and not instance.is_active:
        changes.append("deactivated")
    instance._ictms_account_changes = tuple(changes)


@receiver(post_save, sender=User, dispatch_uid="ictms.account_changes.post")
def _act_on_changes(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    changes = getattr(instance, "_ictms_account_changes", ())
    instance._ictms_account_changes = ()
    if not changes:
        return
    actor = _request_user()
    with transaction.atomic():
        if "password" in changes:
            if _resetting.get():
                audit_record(actor=instance, action=AuditAction.USER_PASSWORD_RESET_COMPLETE, target=instance)
            else:
                by = "self" if actor is not None and actor.pk == instance.pk else ("other" if actor else "system")
                audit_record(actor=actor, action=AuditAction.USER_PASSWORD_CHANGE, target=instance, data={"by": by})
            token_revoke_for(user=instance, why=RevokeReason.PASSWORD_CHANGE, actor=actor)
        if "deactivated" in changes:
            token_revoke_for(user=instance, why=RevokeReason.DEACTIVATED, actor=actor)


@receiver(user_locked_out, dispatch_uid="ictms.account_changes.locked_out")
def _locked_out(sender: Any, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    # Only a new lock of the account (ictms.lib.lockout): not an attempt refused while a lock holds, and
    # not a whole address refused for spraying, which says nothing about this account.
    if not username or new_lock_scope(request) != "account":
        return
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    if user is not None:
        token_revoke_for(user=user, why=RevokeReason.LOCKED_OUT)


@transaction.atomic
def password_reset_requested(*, users: list[Any]) -> None:
    """Audit a reset request for each account it was mailed to (none: nothing, and the requester is
    told the same either way). No address or link is kept: the target is the account."""
    for user in users:
        audit_record(actor=None, action=AuditAction.USER_PASSWORD_RESET_REQUEST, target=user)
