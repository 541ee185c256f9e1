"""The trial-page decorator: every page under /t/<code>/ resolves its trial through it."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from ictms.lib.errors import NotFoundError, PermissionDeniedError
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
