"""The user type every selector and service accepts: a signed-in user or the anonymous one."""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

AnyUser = User | AnonymousUser
