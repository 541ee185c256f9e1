"""Query pages: the trial's query list with filters and one query's thread with its actions."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from ictms.lib.filters import filter_errors, filtered_or_none
from ictms.lib.pages import run_service
from imaging.choices import (
    AGE_BUCKETS,
    QueryCategory,
    QueryState,
)
from imaging.intake.selectors import submission_list_for_user
from imaging.models import QcFinding, Query
from imaging.pages import PAGE_SIZE, query_string, require_site_data, require_this_trial, site_filter
from imaging.qc.selectors import qc_findings_for_visit
from imaging.queries import services
from imaging.queries.filters import QueryFilterSet
from imaging.queries.selectors import query_get_for_user, query_list_for_user, query_messages
from trials.pages import trial_page
from trials.selectors import TrialAccess


class QueryMessageForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    submission = forms.IntegerField(required=False, widget=forms.HiddenInput)


QUERY_STATE_FILTERS = [
    ("", "All"), ("open", "Open (site to answer)"), ("answered", "Answered (QC to review)"),
    ("open,answered", "Open or answered"), ("resolved", "Resolved"), ("cancelled", "Withdrawn"),
]


@trial_page()
def query_list(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """Every query the user may see in this trial (a site coordinator: their site's), with filters."""
    require_site_data(access)
    sites, _site = site_filter(request, access)
    queries = query_list_for_user(user=request.user).filter(visit__participant__trial=access.trial)
    filterset = QueryFilterSet(request.GET, queryset=queries, request=request, trial=access.trial, sites=sites)
    page = Paginator(filtered_or_none(filterset), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "imaging/query_list.html", {
        "trial": access.trial, "access": access, "page": page, "queries": list(page.object_list),
        "filter_errors": filter_errors(filterset.errors),
        "sites": sites, "states": QUERY_STATE_FILTERS, "categories": QueryCategory.choices, "ages": list(AGE_BUCKETS),
        "f": {k: request.GET.get(k, "") for k in ("state", "site", "category", "age", "automatic")},
        "query_string": query_string(request), "show_site_filter": len(sites) > 1,
    })


@trial_page()
def query_detail(request: HttpRequest, access: TrialAccess, query_id: int) -> HttpResponse:
    query = query_get_for_user(user=request.user, pk=query_id)
    require_this_trial(access, query.visit.participant.trial_id)
    is_qc = access.can("perform_qc")
    is_site = request.user.has_perm("trials.answer_queries", query.visit.participant.site)
    form = QueryMessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "")
        text = form.cleaned_data["message"]
        calls = {
            "answer": lambda: services.query_answer(actor=request.user, query=query, message=text, submission=_submission(
                request, query, form.cleaned_data.get("submission"))),
            "resolve": lambda: services.query_resolve(actor=request.user, query=query, message=text),
            "reopen": lambda: services.query_reopen(actor=request.user, query=query, message=text),
            "cancel": lambda: services.query_cancel(actor=request.user, query=query, message=text),
        }
        if action not in calls:
            raise Http404
        if run_service(form, calls[action]):
            messages.success(request, "Query updated.")
            return redirect("imaging:query", code=access.trial.code, query_id=query.pk)
    submissions = submission_list_for_user(user=request.user, visit=query.visit) if is_site else []
    cause: list[QcFinding] = []
    if query.is_automatic and query.cause_key:
        cause = [f for f in qc_findings_for_visit(visit=query.visit, current=False) if f.key == query.cause_key]
    return render(request, "imaging/query_detail.html", {
        "trial": access.trial, "access": access, "query": query, "thread": query_messages(query=query),
        "form": form, "is_qc": is_qc, "is_site": is_site, "submissions": submissions,
        "can_answer": is_site and query.state == QueryState.OPEN,
        "can_review": is_qc and query.state == QueryState.ANSWERED,
        "can_cancel": is_qc and query.state == QueryState.OPEN,
        "age_days": query.age_days(timezone.localdate()), "cause_current": [f for f in cause if f.is_current],
        "cause_fixed": bool(cause) and not any(f.is_current for f in cause),
        "can_review_visit": access.all_sites,
    })


def _submission(request: HttpRequest, query: Query, submission_id: int | None) -> Any:
    if not submission_id:
        return None
    return submission_list_for_user(user=request.user, visit=query.visit).filter(pk=submission_id).first()
