"""Template filters shared by the project's own pages."""
from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> int | str:
    """A duration in whole minutes (rounded up), e.g. how long a log-in lock lasts; "" for none."""
    if not isinstance(value, dt.timedelta):
        return ""
    return -(-int(value.total_seconds()) // 60)
