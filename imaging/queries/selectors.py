"""Reads of queries: scoped lists, one query, its thread and the backlog by site (the list's filters: filters.py)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from ictms.lib.errors import NotFoundError
from ictms.lib.users import AnyUser
from imaging.choices import AGE_BUCKETS, age_bucket
from imaging.models import (
    Query,
    QueryMessage,
)
from trials.selectors import participant_scope


def query_list_for_user(*, user: AnyUser) -> QuerySet[Query]:
    """Queries of visits the caller may see (a site sees its own; the core lab sees the trial's)."""
    return (
        Query.objects.filter(participant_scope(user=user, prefix="visit__participant__"))
        .select_related("visit__participant__site", "visit__participant__trial", "visit__timepoint", "series", "raised_by")
        .annotate(message_count=Count("messages"))
        .order_by("-created_at", "-id")
    )


def query_get_for_user(*, user: AnyUser, pk: int) -> Query:
    query = query_list_for_user(user=user).filter(pk=pk).first()
    if query is None:
        raise NotFoundError("No such query.")
    return query


def query_messages(*, query: Query) -> QuerySet[QueryMessage]:
    return QueryMessage.objects.filter(query=query).select_related("author", "submission").order_by("created_at", "id")


def query_backlog_by_site(*, queries: list[Query], today: dt.date | None = None) -> dict[int, dict[str, Any]]:
    """Active queries per site id: counts by state, by age bucket (AGE_BUCKETS) and overdue."""
    today = today or timezone.localdate()
    out: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"open": 0, "answered": 0, "ages": [0] * len(AGE_BUCKETS), "overdue": 0})
    for q in queries:
        entry = out[q.visit.participant.site_id]
        entry[q.state] += 1
        entry["ages"][age_bucket(q.age_days(today))] += 1
        if q.is_overdue(today):
            entry["overdue"] += 1
    return out
