"""Helpers shared by the pages of every app: service-error plumbing (the trial-page decorator is trials.pages)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.forms import Form

from ictms.lib.errors import DomainError


def run_service(form: Form, call: Callable[[], Any]) -> Any | None:
    """Call a service; put its validation / domain errors on the form. Returns None on error."""
    try:
        return call()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            form.add_error(None, exc)
    except DomainError as exc:
        form.add_error(None, exc.message)
    return None
