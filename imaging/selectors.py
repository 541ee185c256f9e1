"""Reads of the imaging app, scoped to the participants the caller may see."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ictms.lib.errors import NotFoundError
from imaging.choices import AGE_BUCKETS, QueryState, age_bucket
from imaging.models import (
    Instance,
    Measurement,
    QcFinding,
    Query,
    QueryMessage,
    Series,
    Study,
    Submission,
    SubmissionFile,
)
from trials.models import Trial, Visit
from trials.selectors import participant_scope

AnyUser = AbstractBaseUser | AnonymousUser


def submission_list_for_user(*, user: AnyUser, visit: Visit | None = None) -> QuerySet[Submission]:
    qs = Submission.objects.filter(participant_scope(user=user, prefix="visit__participant__")).select_related(
        "visit__participant__site", "visit__participant__trial", "visit__timepoint", "opened_by"
    )
    if visit is not None:
        qs = qs.filter(visit=visit)
    return qs.order_by("-opened_at", "-id")


def submission_get_for_user(*, user: AnyUser, pk: int) -> Submission:
    submission = submission_list_for_user(user=user).filter(pk=pk).first()
    if submission is None:
        raise NotFoundError("No such submission.")
    return submission


def submission_file_counts(*, submission: Submission) -> dict[str, int]:
    """How many of the submission's files are in each status (one query)."""
    rows = SubmissionFile.objects.filter(submission=submission).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def submission_files(*, submission: Submission, since_id: int = 0) -> QuerySet[SubmissionFile]:
    return SubmissionFile.objects.filter(submission=submission, id__gt=since_id).order_by("id")


def study_list_for_user(*, user: AnyUser, visit: Visit | None = None) -> QuerySet[Study]:
    qs = Study.objects.filter(participant_scope(user=user, prefix="participant__")).select_related(
        "participant__trial", "participant__site", "visit__timepoint"
    )
    if visit is not None:
        qs = qs.filter(visit=visit)
    return qs.order_by("visit__timepoint__order", "study_date", "id")


def series_list_for_user(*, user: AnyUser, visit: Visit | None = None, study: Study | None = None) -> QuerySet[Series]:
    qs = (
        Series.objects.filter(participant_scope(user=user, prefix="study__participant__"))
        .select_related("study__participant__trial", "study__participant__site", "study__visit__timepoint")
        .annotate(instance_count=Count("instances"))
    )
    if visit is not None:
        qs = qs.filter(study__visit=visit)
    if study is not None:
        qs = qs.filter(study=study)
    return qs.order_by("study__visit__timepoint__order", "study_id", "series_number", "id")


def series_get_for_user(*, user: AnyUser, pk: int) -> Series:
    series = series_list_for_user(user=user).filter(pk=pk).first()
    if series is None:
        raise NotFoundError("No such series.")
    return series


def instance_list_for_user(*, user: AnyUser, series: Series | None = None) -> QuerySet[Instance]:
    qs = Instance.objects.filter(participant_scope(user=user, prefix="series__study__participant__")).select_related(
        "series__study"
    )
    if series is not None:
        qs = qs.filter(series=series)
    return qs.order_by("series_id", "instance_number", "id")


def instance_get_for_user(*, user: AnyUser, pk: int) -> Instance:
    instance = instance_list_for_user(user=user).filter(pk=pk).first()
    if instance is None:
        raise NotFoundError("No such instance.")
    return instance


def measurement_list_for_user(*, user: AnyUser, instance: Instance | None = None, series: Series | None = None) -> QuerySet[Measurement]:
    qs = Measurement.objects.filter(
        participant_scope(user=user, prefix="instance__series__study__participant__"), is_deleted=False
    ).select_related("instance", "created_by")
    if instance is not None:
        qs = qs.filter(instance=instance)
    if series is not None:
        qs = qs.filter(instance__series=series)
    return qs.order_by("instance_id", "created_at")




def submission_file_counts_many(*, submission_ids: list[int]) -> dict[int, dict[str, int]]:
    """Status counts for several submissions in one query (list pages)."""
    out: dict[int, dict[str, int]] = {pk: {} for pk in submission_ids}
    rows = (SubmissionFile.objects.filter(submission_id__in=submission_ids).values("submission_id", "status")
            .annotate(n=Count("id")))
    for row in rows:
        out[row["submission_id"]][row["status"]] = row["n"]
    return out


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


def qc_findings_for_visit(*, visit: Visit, current: bool = True) -> QuerySet[QcFinding]:
    qs = QcFinding.objects.filter(visit=visit).select_related("series", "requirement")
    return qs.filter(is_current=True) if current else qs


def qc_queue_for_user(*, user: AnyUser, trial=None) -> QuerySet[Visit]:  # noqa: ANN001
    """Visits with images waiting for QC review, oldest first (QC analysts)."""
    from guardian.shortcuts import get_objects_for_user

    from trials.choices import VisitState

    if not (user and user.is_authenticated):
        return Visit.objects.none()
    trials = get_objects_for_user(user, "trials.perform_qc", klass=Trial, accept_global_perms=False)
    qs = (
        Visit.objects.filter(participant__trial__in=trials, state__in=(VisitState.RECEIVED, VisitState.IN_QC))
        .select_related("participant__site", "participant__trial", "timepoint")
        .annotate(
            series_count=Count("studies__series", distinct=True),
            open_queries=Count("queries", filter=Q(queries__state__in=("open", "answered")), distinct=True),
            blocking=Count("qc_findings", filter=Q(qc_findings__is_current=True, qc_findings__severity="blocking"),
                           distinct=True),
        )
        .order_by("received_at", "id")
    )
    if trial is not None:
        qs = qs.filter(participant__trial=trial)
    return qs


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


def visit_first_pass_acceptance(*, user: AnyUser, trial: Trial) -> dict[int, tuple[int, int]]:
    """Per site id: (accepted visits, of which accepted without any query, withdrawn ones aside)."""
    from trials.choices import VisitState
    from trials.selectors import visit_list_for_user

    accepted = (visit_list_for_user(user=user, trial=trial)
                .filter(state__in=(VisitState.ACCEPTED, VisitState.READ)).values_list("pk", "participant__site_id"))
    queried = set(query_list_for_user(user=user).filter(visit__participant__trial=trial)
                  .exclude(state=QueryState.CANCELLED).values_list("visit_id", flat=True))
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for visit_id, site_id in accepted:
        out[site_id][0] += 1
        if visit_id not in queried:
            out[site_id][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


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
