"""Personal API tokens: the one rule for whether a key is valid, and the services that issue and revoke them.

A token (DRF authtoken, one per user) is valid while it exists, its user is active and it is younger
than settings.API_TOKEN_EXPIRY_DAYS. `token_check` decides; the DRF authentication class below and the
plain image/DICOMweb endpoints (imaging.viewer.access) both ask it. An expired token is deleted the
first time it is presented. Tokens are also revoked when the password changes, the account is
deactivated or django-axes locks it (ictms.signals), and by their owner (API and the token page).

Every issue and revocation is audited with the user as target, never the token: a Token's primary
key is the key itself, and no key may reach the audit trail.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from audit.actions import AuditAction
from audit.services import audit_record
from ictms.lib.errors import DomainError, PermissionDeniedError

EXPIRED_MESSAGE = "Token expired; request a new one"


class RevokeReason(StrEnum):
    """Why a token was revoked (the `why` of its audit event)."""

    OWNER = "owner"
    PASSWORD_CHANGE = "password_change"  # noqa: S105  (a reason, not a password)
    DEACTIVATED = "deactivated"
    LOCKED_OUT = "locked_out"
    EXPIRED = "expired"


class TokenProblem(StrEnum):
    UNKNOWN = "unknown"
    INACTIVE = "inactive"
    EXPIRED = "expired"


@dataclass(frozen=True)
class TokenCheck:
    """The answer for one presented key: the token and its user when valid, else what is wrong."""

    token: Token | None
    problem: TokenProblem | None

    @property
    def user(self) -> Any:
        return self.token.user if self.token is not None and self.problem is None else None


def token_lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings.API_TOKEN_EXPIRY_DAYS)


def token_expires_at(token: Token) -> dt.datetime:
    return token.created + token_lifetime()


def token_is_expired(token: Token, *, now: dt.datetime | None = None) -> bool:
    return (now or timezone.now()) >= token_expires_at(token)


def token_check(key: str) -> TokenCheck:
    """Whether `key` is a valid token now. An expired one is deleted (and the revocation audited)."""
    if not key:
        return TokenCheck(None, TokenProblem.UNKNOWN)
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None:
        return TokenCheck(None, TokenProblem.UNKNOWN)
    if not token.user.is_active:
        return TokenCheck(token, TokenProblem.INACTIVE)
    if token_is_expired(token):
        token_revoke_for(user=token.user, why=RevokeReason.EXPIRED)
        return TokenCheck(token, TokenProblem.EXPIRED)
    return TokenCheck(token, None)


def token_for_user(*, user: Any) -> Token | None:
    """The user's token, if any (expired or not): what the token page shows, never its key."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Token.objects.filter(user=user).first()


def _issue(user: User, via: str) -> Token:
    token = Token.objects.create(user=user)
    audit_record(actor=user, action=AuditAction.TOKEN_ISSUE, target=user,
                 data={"via": via, "expires": token_expires_at(token).isoformat()})
    return token


def _delete(token: Token, *, actor: Any, why: RevokeReason) -> None:
    user = token.user
    issued = token.created
    token.delete()
    audit_record(actor=actor, action=AuditAction.TOKEN_REVOKE, target=user,
                 data={"why": str(why), "issued": issued.isoformat()})


@transaction.atomic
def token_obtain(*, user: Any) -> Token:
    """POST /api/auth/token/ after the password was checked: the user's valid token, or a new one.

    An unexpired token is returned as it is (clients that ask twice get the same key); an expired
    one is replaced.
    """
    if not getattr(user, "is_active", False):
        raise PermissionDeniedError("This account is not active.")
    token = Token.objects.select_for_update().select_related("user").filter(user=user).first()
    if token is not None and not token_is_expired(token):
        return token
    if token is not None:
        _delete(token, actor=None, why=RevokeReason.EXPIRED)
    return _issue(user, "api")


@transaction.atomic
def token_issue(*, actor: Any) -> Token:
    """The token page's "Issue a new token": the actor's own new token; an existing one is revoked first.

    Refused while the account is locked by django-axes (a session opened before the lock goes on).
    """
    from trials.selectors import account_locks

    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDeniedError("Sign in to issue a token.")
    if account_locks(usernames=[actor.get_username()]):
        raise DomainError("This account is locked after failed sign-ins; no token can be issued until it is unlocked.")
    old = Token.objects.select_for_update().select_related("user").filter(user=actor).first()
    if old is not None:
        _delete(old, actor=actor, why=RevokeReason.EXPIRED if token_is_expired(old) else RevokeReason.OWNER)
    return _issue(actor, "page")


@transaction.atomic
def token_revoke(*, actor: Any) -> bool:
    """The owner revokes their own token (DELETE /api/auth/token/, the token page). False: there was none."""
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDeniedError("Sign in to revoke your token.")
    token = Token.objects.select_for_update().select_related("user").filter(user=actor).first()
    if token is None:
        return False
    _delete(token, actor=actor, why=RevokeReason.OWNER)
    return True


@transaction.atomic
def token_revoke_for(*, user: Any, why: RevokeReason, actor: Any = None) -> bool:
    """Revoke `user`'s token because of something that happened to the account (no permission check:
    called by the system when the password changes, the account is deactivated or locked, or the token
    expired). False: there was none."""
    token = Token.objects.select_for_update().select_related("user").filter(user_id=user.pk).first()
    if token is None:
        return False
    _delete(token, actor=actor, why=why)
    return True


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, asking token_check: expired keys answer 401 and are deleted."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        check = token_check(key)
        if check.problem is TokenProblem.EXPIRED:
            raise exceptions.AuthenticationFailed(EXPIRED_MESSAGE)
        if check.problem is TokenProblem.INACTIVE:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if check.token is None or check.problem is not None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return check.token.user, check.token
