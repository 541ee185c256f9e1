"""Login, logout, failed-login and lockout events go to the audit trail (a cross-cutting concern)."""
from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.db import transaction
from django.dispatch import receiver

from audit.actions import AuditAction
from audit.services import audit_record
from ictms.lib.lockout import new_lock_scope
from ictms.lib.request_context import client_ip_from_request


def _ip(request: Any) -> str | None:
    return client_ip_from_request(request) if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        audit_record(actor=user, action=AuditAction.USER_LOGIN, target=user, ip=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        with transaction.atomic():
            audit_record(actor=user, action=AuditAction.USER_LOGOUT, target=user, ip=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    # Only the username is kept: the password never reaches the audit trail.
    with transaction.atomic():
        audit_record(
            actor=None, action=AuditAction.USER_LOGIN_FAILED, ip=_ip(request),
            data={"username": str(credentials.get("username", ""))[:150]},
        )


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    """A failed sign-in has just locked the account from that address, or the address as a whole
    (ictms.lib.lockout); attempts refused because the lock already holds are not new lockouts."""
    scope = new_lock_scope(request)
    if scope is None:
        return
    with transaction.atomic():
        audit_record(
            actor=None, action=AuditAction.USER_LOCKOUT, trial=None, ip=ip_address,
            data={"username": str(username or "")[:150], "address": ip_address, "scope": scope},
        )
