"""The electronic signature's two checks shared by reads and adjudications (21 CFR Part 11):
the signer's password, re-entered, and the SHA-256 of the canonical content signed."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.http import HttpRequest


def content_sha256(content: dict[str, Any]) -> str:
    """The SHA-256 of the canonical JSON of signed content (what `verify_signatures` recomputes)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def password_ok(actor: User, password: str, request: HttpRequest | None) -> bool:
    """Whether `password` is the signer's own (through the authentication backends, so that a wrong
    one counts toward the account lockout like a failed login)."""
    if request is None:
        request = HttpRequest()
        request.META["REMOTE_ADDR"] = "127.0.0.1"
    user = authenticate(request, username=actor.get_username(), password=password or "")
    return user is not None and user.pk == actor.pk
