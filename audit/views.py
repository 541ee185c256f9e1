"""The audit trail page and its CSV export (trial admins and auditors)."""
from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from audit.actions import AuditAction
from audit.export import audit_csv_rows
from audit.selectors import AuditFilter, audit_action_names, audit_event_list_for_user
from audit.services import audit_record
from trials.pages import trial_page
from trials.selectors import TrialAccess


def _filters(request: HttpRequest) -> AuditFilter:
    def date(name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(request.GET.get(name, "")) if request.GET.get(name) else None
        except ValueError:
            return None

    return AuditFilter(
        object=request.GET.get("object", "").strip(), user=request.GET.get("user", "").strip(),
        action=request.GET.get("action", "").strip(), date_from=date("from"), date_to=date("to"),
    )


@trial_page("view_audit_trail")
def audit_trail(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    filters = _filters(request)
    events = audit_event_list_for_user(user=request.user, trial=access.trial, filters=filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/audit_trail.html", {
        "trial": access.trial, "access": access, "page": page, "filters": filters,
        "actions": audit_action_names(trial=access.trial), "query": query.urlencode(),
    })


@trial_page("view_audit_trail")
def audit_export(request: HttpRequest, access: TrialAccess) -> StreamingHttpResponse:
    filters = _filters(request)
    with transaction.atomic():
        # Exporting the trail is itself an auditable act.
        audit_record(actor=request.user, action=AuditAction.AUDIT_EXPORT, target=access.trial, trial=access.trial,
                     data={"filters": {k: str(v) for k, v in filters.__dict__.items() if v}})
    events = audit_event_list_for_user(user=request.user, trial=access.trial, filters=filters).order_by("seq")
    response = StreamingHttpResponse(audit_csv_rows(events.iterator(chunk_size=1000)), content_type="text/csv")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{access.trial.code}-{stamp}.csv"'
    return response
