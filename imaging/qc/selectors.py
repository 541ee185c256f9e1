"""Reads for QC: current findings, the QC queue, first-pass acceptance, and what of a finding is shown."""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from ictms.lib.users import AnyUser
from imaging.choices import QueryState
from imaging.models import QcFinding, QcRun, Series
from imaging.queries.selectors import query_list_for_user
from trials.models import Trial, Visit


def qc_findings_for_visit(*, visit: Visit, current: bool = True) -> QuerySet[QcFinding]:
    qs = QcFinding.objects.filter(visit=visit).select_related("series", "requirement")
    return qs.filter(is_current=True) if current else qs


def latest_qc_run(*, visit: Visit) -> QcRun | None:
    """The visit's most recent automated QC run (what its review page shows), if any has run."""
    return QcRun.objects.filter(visit=visit).order_by("-id").first()


def qc_queue_for_user(*, user: AnyUser, trial=None, oversight: bool = False) -> QuerySet[Visit]:
    """Visits with images waiting for QC review, oldest first (QC analysts).

    `oversight`: also for the core-lab roles that see every site of a trial (admin, sponsor,
    auditor), who look at the queue read-only (the QC page's decisions stay the analyst's).
    """
    from guardian.shortcuts import get_objects_for_user

    from trials.choices import VisitState

    if not (user and user.is_authenticated):
        return Visit.objects.none()
    perm = "trials.view_all_sites" if oversight else "trials.perform_qc"
    trials = get_objects_for_user(user, perm, klass=Trial, accept_global_perms=False)
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


# Finding details keep the measured and expected values, except the images' dates: they are in
# the participant's shifted frame, and next to the real visit window they would give away the
# secret date offset. The messages already speak in days before or after the window.
SHIFTED_DATE_KEYS = frozenset({"scan_date", "window_start", "window_end", "reported_scan_date"})


def public_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """A finding's details as pages and the API show them (no shifted dates, at any depth)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items() if k not in SHIFTED_DATE_KEYS}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(dict(details or {}))


def with_qc(qs: QuerySet[Series]) -> QuerySet[Series]:
    """Series with their decision's author and current findings preloaded (constant queries)."""
    current = QcFinding.objects.filter(is_current=True).select_related(None).order_by("id")
    return qs.select_related("qc_by").prefetch_related(Prefetch("qc_findings", queryset=current, to_attr="current_findings"))


def current_findings(series: Series) -> list[QcFinding]:
    cached = getattr(series, "current_findings", None)
    if cached is not None:
        return cached
    return list(QcFinding.objects.filter(series=series, is_current=True).order_by("id"))


def waiting_days(visit: Visit, today: dt.date | None = None) -> int | None:
    """Days since the visit's images first arrived (its age in the QC queue)."""
    if visit.received_at is None:
        return None
    return ((today or timezone.localdate()) - timezone.localdate(visit.received_at)).days


def visit_modalities(visit_ids: Iterable[int]) -> dict[int, list[str]]:
    """The modalities received for each visit, in one query (the ids come from a scoped list)."""
    out: dict[int, set[str]] = defaultdict(set)
    rows = Series.objects.filter(study__visit_id__in=list(visit_ids)).values_list("study__visit_id", "modality").distinct()
    for visit_id, modality in rows:
        if modality:
            out[visit_id].add(modality)
    return {k: sorted(v) for k, v in out.items()}


def _month(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value)
    return f"{value.year:04d}-{value.month:02d}"


def _months(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` ("YYYY-MM"), gaps included."""
    year, month = int(first[:4]), int(first[5:])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def monthly_counts(*, user: AnyUser, trial: Trial) -> list[tuple[str, int, int, int]]:
    """Per month, for the trends the dashboards plot: (month, participants enrolled (by consent date,
    else date of entry), visits whose images arrived, queries still unresolved at the month's end).

    Scoped to what the caller may see; three queries whatever the trial's size.
    """
    from trials.choices import VisitState
    from trials.selectors import participant_list_for_user, visit_list_for_user

    enrolled = Counter(_month(consent or created) for consent, created in
                       participant_list_for_user(user=user, trial=trial).values_list("consent_date", "created_at"))
    # When the images arrived (a visit accepted without a recorded arrival counts when it was accepted).
    arrived = (visit_list_for_user(user=user, trial=trial).exclude(state=VisitState.EXPECTED)
               .values_list("received_at", "accepted_at"))
    when = [at or accepted for at, accepted in arrived]
    received = Counter(_month(at) for at in when if at is not None)
    queries = list(query_list_for_user(user=user).filter(visit__participant__trial=trial)
                   .exclude(state=QueryState.CANCELLED).values_list("created_at", "closed_at"))
    raised = {_month(created) for created, _closed in queries}
    seen = sorted(set(enrolled) | set(received) | raised)
    if not seen:
        return []
    months = _months(seen[0], max(seen[-1], _month(timezone.localdate())) if queries else seen[-1])
    rows = []
    for month in months:
        backlog = sum(1 for created, closed in queries
                      if _month(created) <= month and (closed is None or _month(closed) > month))
        rows.append((month, enrolled.get(month, 0), received.get(month, 0), backlog))
    return rows
