"""Helpers shared by the pages of every app: the trial-page decorator and service-error plumbing."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse

from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from trials import selectors


def trial_page(perm: str | None = None) -> Callable:
    """Resolve /t/<code>/ to a trial the user may see (else 404) and require `perm` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, code: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                trial = selectors.trial_get_for_user(user=request.user, code=code)
            except NotFoundError as exc:
                raise Http404(exc.message) from exc
            access = selectors.trial_access(user=request.user, trial=trial)
            if perm and not access.can(perm):
                raise PermissionDenied
            request.trial_access = access  # used by the navigation
            try:
                return view(request, access, *args, **kwargs)
            except NotFoundError as exc:
                raise Http404(exc.message) from exc
            except PermissionDeniedError as exc:
                raise PermissionDenied(exc.message) from exc

        return wrapper

    return decorator


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
