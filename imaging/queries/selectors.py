"""Reads of queries: scoped lists, one query, its thread, the backlog by site and the list filter."""
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


def query_filter(qs: QuerySet[Query], params: Any) -> QuerySet[Query]:
    """The filters of the list endpoint and the queries page (trial, site, state, category, age, visit)."""
    if params.get("trial"):
        qs = qs.filter(visit__participant__trial__code=params["trial"])
    if params.get("site"):
        qs = qs.filter(visit__participant__site__number=params["site"])
    if params.get("state"):
        states = [s for s in params["state"].split(",") if s]
        qs = qs.filter(state__in=states)
    if params.get("category"):
        qs = qs.filter(category=params["category"])
    if params.get("visit") and str(params["visit"]).isdigit():
        qs = qs.filter(visit_id=int(params["visit"]))
    if params.get("automatic") in ("1", "true", "0", "false"):
        qs = qs.filter(is_automatic=params["automatic"] in ("1", "true"))
    bucket = AGE_BUCKETS.get(params.get("age", ""))
    if bucket:
        today = timezone.localdate()
        low, high = bucket
        qs = qs.filter(created_at__date__lte=today - dt.timedelta(days=low))
        if high is not None:
            qs = qs.filter(created_at__date__gte=today - dt.timedelta(days=high))
    return qs
