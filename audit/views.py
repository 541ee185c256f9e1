"""The audit trail page and its CSV export (trial admins and auditors)."""
from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render

from audit.actions import AuditAction
from audit.blinding import Blinder
from audit.export import audit_csv_rows
from audit.filters import AuditEventFilterSet
from audit.selectors import audit_action_names, audit_event_list_for_user
from audit.services import audit_record
from ictms.lib.filters import filter_errors, filtered_or_none
from trials.pages import trial_page
from trials.selectors import TrialAccess

FILTER_PARAMETERS = ("subject", "object", "user", "action", "from", "to", "detail")


def _filterset(request: HttpRequest, access: TrialAccess) -> AuditEventFilterSet:
    events = audit_event_list_for_user(user=request.user, trial=access.trial)
    return AuditEventFilterSet(request.GET, queryset=events, request=request, trial=access.trial, group_details=True)


@trial_page("view_audit_trail")
def audit_trail(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    filterset = _filterset(request, access)
    page = Paginator(filtered_or_none(filterset), 50).get_page(request.GET.get("page"))
    page.object_list = list(Blinder(request.user).events(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/audit_trail.html", {
        "trial": access.trial, "access": access, "page": page,
        "filters": {name: request.GET.get(name, "") for name in FILTER_PARAMETERS},
        "filter_errors": filter_errors(filterset.errors), "filter_form": filterset.form,
        "actions": audit_action_names(trial=access.trial), "query": query.urlencode(),
        "detail": filterset.is_valid() and filterset.wants_detail(),
    })


@trial_page("view_audit_trail")
def audit_export(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    filterset = _filterset(request, access)
    if not filterset.is_valid():
        # Exporting with the bad filter left out would export more than was asked for.
        lines = "\n".join(filter_errors(filterset.errors))
        return HttpResponseBadRequest(f"Nothing exported: fix the filters.\n{lines}\n", content_type="text/plain")
    with transaction.atomic():
        # Exporting the trail is itself an auditable act.
        audit_record(actor=request.user, action=AuditAction.AUDIT_EXPORT, target=access.trial, trial=access.trial,
                     data={"filters": filterset.applied()})
    events = filterset.qs.order_by("seq")
    rows = audit_csv_rows(events.iterator(chunk_size=1000), Blinder(request.user))
    response = StreamingHttpResponse(rows, content_type="text/csv")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{access.trial.code}-{stamp}.csv"'
    return response
