"""Reads for QC: current findings of a visit, the QC queue, first-pass acceptance per site."""
from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q, QuerySet

from ictms.lib.users import AnyUser
from imaging.choices import QueryState
from imaging.models import (
    QcFinding,
)
from imaging.queries.selectors import query_list_for_user
from trials.models import Trial, Visit


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
