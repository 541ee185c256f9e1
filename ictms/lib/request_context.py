"""The current request's client address, so services can audit where an action came from.

Services take the acting user explicitly; the IP address is ambient (it is a property of the
HTTP request, not of the business operation), so a middleware keeps it in a context variable.
Celery tasks and management commands run without one and are audited with no address.
"""
from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_client_ip: ContextVar[str | None] = ContextVar("ictms_client_ip", default=None)


def client_ip_from_request(request: HttpRequest) -> str | None:
    # REMOTE_ADDR is what the WSGI server saw; behind a proxy the operator's proxy sets it
    # (gunicorn --forwarded-allow-ips). We do not trust X-Forwarded-For blindly: it is forgeable.
    return request.META.get("REMOTE_ADDR") or None


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
