"""Log-in lockout (django-axes): per account and client address, plus a limit for the address as a whole.

Axes counts failed log-ins by (username, address) (AXES_LOCKOUT_PARAMETERS in settings):
LOGIN_FAILURE_LIMIT failures for one account from one address lock that account from that
address only, so nobody can lock a colleague out from elsewhere and the same account still signs
in from another address. A client address that fails LOGIN_ADDRESS_FAILURE_LIMIT times within
the cool-off, across any accounts, is refused as a whole: password spraying (a few guesses at
each of many accounts) stops there. The address is the one the audit trail records
(AXES_CLIENT_IP_CALLABLE is ictms.lib.request_context.client_ip_from_request).

Axes compares one number (`get_failures`) with one limit (AXES_FAILURE_LIMIT), both when it
decides whether to refuse an attempt and when it decides that a failure has just locked the
client out. The handler below reports a blocked address as at least that limit. The
address-wide count is not one of axes' lockout parameters on purpose: axes resets the attempts
matching them on a successful log-in, so an attacker who owns one account could otherwise reset
the counter of the address they are spraying from.

Attempts refused during a lockout are not recorded (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT
is off): they test no password, so a user retrying a locked account from a shared hospital
address does not push that address towards its own limit, and the lock ends by itself
LOGIN_LOCKOUT_MINUTES after the last failure that did test a password.

Two request attributes tell the receivers of axes' user_locked_out what happened (read them with
`new_lock_scope`): `ictms_lockout_refused` is true when the attempt was refused because the client
was already locked (not a new lockout), and `ictms_lockout_scope` is "account" or "address".
"""
from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def address_failures(request: Any) -> int:
    """Failed log-ins from the request's client address within the cool-off, whatever the account."""
    address = getattr(request, "axes_ip_address", None)
    if address is None:  # no address (no HTTP request): nothing to count it against
        return 0
    attempts = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def address_blocked(request: Any) -> bool:
    """Whether the client address reached LOGIN_ADDRESS_FAILURE_LIMIT (0: no address-wide limit)."""
    limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
    return bool(limit) and address_failures(request) >= limit


def new_lock_scope(request: Any) -> str | None:
    """For a user_locked_out signal: "account" or "address" when this attempt made a new lock, None when
    it was only refused because a lock already held."""
    if getattr(request, "ictms_lockout_refused", False):
        return None
    return str(getattr(request, "ictms_lockout_scope", "account"))


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, with the address-wide limit on top of the per-(account, address) one."""

    def is_allowed(self, request: Any, credentials: dict | None = None) -> bool:
        allowed: bool = super().is_allowed(request, credentials)
        request.ictms_lockout_refused = not allowed
        return allowed

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        """The failures of the (account, address) pair; at least the failure limit when the address is blocked."""
        failures: int = super().get_failures(request, credentials)
        if address_blocked(request):
            request.ictms_lockout_scope = "address"
            return max(failures, get_failure_limit(request, credentials))
        request.ictms_lockout_scope = "account"
        return failures
