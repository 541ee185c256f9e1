"""Who is asking: authentication for the plain (non-DRF) image endpoints and DICOMweb.

These endpoints skip DRF for speed but accept the same credentials as the API: the session
cookie (pages), `Authorization: Token <key>` (scripts), `Bearer <key>` (OHIF and other DICOMweb
clients send that form) and HTTP Basic (dicomweb-client's simplest set-up; each request then
checks the password, so tokens are faster). Basic goes through django.contrib.auth.authenticate,
so failed attempts count towards the axes lockout like a failed login. Tokens are judged by
ictms.tokens.token_check, as in the API: an expired one is refused (and deleted).
"""
from __future__ import annotations

import base64
import binascii

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse

from ictms.tokens import token_check


def request_user(request: HttpRequest) -> AbstractBaseUser | None:
    """The authenticated, active user making the request, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if scheme in ("token", "bearer") and credentials:
            user = token_check(credentials).user
        elif scheme == "basic" and credentials:
            user = _basic_user(request, credentials)
        else:
            user = None
        return user if user is not None and user.is_active else None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated and user.is_active else None


def _basic_user(request: HttpRequest, credentials: str) -> AbstractBaseUser | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return authenticate(request, username=username, password=password)


def unauthorized(scheme: str = "Token") -> HttpResponse:
    response = JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
    response["WWW-Authenticate"] = scheme
    return response
