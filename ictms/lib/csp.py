"""Content-Security-Policy on every response: scripts, styles and everything else from this origin only.

No inline script and no inline style (pages wire their behaviour from static ES modules; data for
scripts travels in `json_script` blocks, which are not executed). Images may also be data: and
blob: URLs (the viewer's canvas and thumbnails, CSS icons). `settings.CONTENT_SECURITY_POLICY`
holds the directives; a view that needs a different policy sets the header itself, and this
middleware leaves it alone.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

DEFAULT_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def header_value(policy: Mapping[str, str]) -> str:
    return "; ".join(f"{name} {value}".strip() for name, value in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.value = header_value(getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = self.value
        return response


def csp_update(**directives: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator that sends the site's policy with some directives replaced (e.g. style_src="...")."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = view(*args, **kwargs)
            policy = dict(getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY))
            policy.update({name.replace("_", "-"): value for name, value in directives.items()})
            response[HEADER] = header_value(policy)
            return response

        return wrapper

    return decorator
