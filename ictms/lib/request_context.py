"""The current request's client address, so services can audit where an action came from.

Services take the acting user explicitly; the IP address is ambient (it is a property of the
HTTP request, not of the business operation), so a middleware keeps it in a context variable.
Celery tasks and management commands run without one and are audited with no address.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_client_ip: ContextVar[str | None] = ContextVar("ictms_client_ip", default=None)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(ip in n for n in networks)


def client_ip_from_request(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR (what the WSGI server saw), unless that is one of the
    operator's reverse proxies (TRUSTED_PROXIES, addresses or networks): then the right-most
    X-Forwarded-For entry that is not a trusted proxy. X-Forwarded-For is never believed from
    anyone else: a client can write anything there. The audit trail and the login lockout
    (AXES_CLIENT_IP_CALLABLE) both use this address."""
    remote = request.META.get("REMOTE_ADDR") or None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if remote is None or not networks:
        return remote
    peer = _ip(remote)
    if peer is None or not _trusted(peer, networks):
        return remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        ip = _ip(hop)
        if ip is None:  # a malformed entry: nothing left of it can be trusted
            return remote
        if not _trusted(ip, networks):
            return str(ip)
    return remote


def current_client_ip() -> str | None:
    return _client_ip.get()


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_ip.set(client_ip_from_request(request))
        try:
            return self.get_response(request)
        finally:
            _client_ip.reset(token)
