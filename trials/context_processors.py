"""Template context shared by every page: the user's trials for the navigation."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from trials.selectors import membership_list_for_user


def memberships(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {"my_memberships": SimpleLazyObject(lambda: list(membership_list_for_user(user=user)))}
