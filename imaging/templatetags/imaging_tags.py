"""Template tags of the imaging pages: the QC queue and open-queries panels, query age and due state.

The panels are inclusion tags so that pages of other apps (the QC analyst's home, the site
coordinator's participants page) can show them without their views knowing about imaging.
Each panel runs a constant number of queries through the scoped selectors.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import template
from django.utils import timezone

from imaging.choices import QUERY_ACTIVE, QueryState
from imaging.models import QcFinding, Query
from imaging.qc.selectors import public_details
from imaging.queries.selectors import query_list_for_user

register = template.Library()

OPEN_QUERIES_SHOWN = 20


@register.inclusion_tag("imaging/_qc_queue.html", takes_context=True)
def qc_queue_panel(context: template.Context) -> dict[str, Any]:
    """The QC queue with its site and modality filters (QC analysts; nothing for other roles)."""
    from imaging.qc.views import qc_queue_context  # views import this module's filters

    request, access = context.get("request"), context.get("access")
    if request is None or access is None or not access.can("perform_qc"):
        return {"queue_hidden": True}
    return {"request": request, **qc_queue_context(request, access)}


@register.inclusion_tag("imaging/_open_queries.html", takes_context=True)
def open_queries_panel(context: template.Context) -> dict[str, Any]:
    """A site coordinator's active queries in this trial: those to answer first, then those with QC."""
    request, access = context.get("request"), context.get("access")
    if request is None or access is None or "answer_queries" not in access.site_perms:
        return {"show": False}
    active = list(
        query_list_for_user(user=request.user)
        .filter(visit__participant__trial=access.trial, state__in=QUERY_ACTIVE)
        .order_by("due_date", "id")[: OPEN_QUERIES_SHOWN + 1]
    )
    more = len(active) > OPEN_QUERIES_SHOWN
    active = active[:OPEN_QUERIES_SHOWN]
    return {
        "show": True, "trial": access.trial, "more": more,
        "to_answer": [q for q in active if q.state == QueryState.OPEN],
        "with_qc": [q for q in active if q.state == QueryState.ANSWERED],
    }


@register.filter
def query_age(query: Query) -> int:
    """Days the query has been (or was) open."""
    return query.age_days(timezone.localdate())


@register.filter
def query_overdue(query: Query, today: dt.date | None = None) -> bool:
    """Past its due date while the site still has to answer (as the API's `overdue`)."""
    return query.is_overdue(today or timezone.localdate())


def _label(key: str) -> str:
    return key.replace("_mm", " (mm)").replace("_", " ")


def _shown(key: str) -> bool:
    # De-identified UIDs mean nothing to a person reading the page; the API keeps them.
    return not key.endswith("uid")


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{_label(k)} {_value(v)}" for k, v in value.items() if _shown(k))
    if isinstance(value, list | tuple):
        separator = " | " if any(isinstance(v, Mapping) for v in value) else ", "
        return separator.join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value in (None, "") else str(value)


@register.filter
def finding_details(finding: QcFinding) -> list[tuple[str, str]]:
    """The measured and expected values behind a finding, as (label, value) pairs."""
    return [(_label(k), _value(v)) for k, v in public_details(finding.details).items() if _shown(k)]
