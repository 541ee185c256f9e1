"""Pages of quality control and queries: the query thread with its actions."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ictms.lib.errors import NotFoundError
from ictms.lib.pages import run_service, trial_page
from imaging import selectors
from imaging.choices import QueryState
from imaging.services import queries as services
from trials.selectors import TrialAccess


class QueryMessageForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    submission = forms.IntegerField(required=False, widget=forms.HiddenInput)


@trial_page()
def query_detail(request: HttpRequest, access: TrialAccess, query_id: int) -> HttpResponse:
    try:
        query = selectors.query_get_for_user(user=request.user, pk=query_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    if query.visit.participant.trial_id != access.trial.pk:
        raise Http404
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
    submissions = selectors.submission_list_for_user(user=request.user, visit=query.visit) if is_site else []
    return render(request, "imaging/query_detail.html", {
        "trial": access.trial, "access": access, "query": query, "thread": selectors.query_messages(query=query),
        "form": form, "is_qc": is_qc, "is_site": is_site, "submissions": submissions,
        "can_answer": is_site and query.state == QueryState.OPEN,
        "can_review": is_qc and query.state == QueryState.ANSWERED,
        "can_cancel": is_qc and query.state == QueryState.OPEN,
    })


def _submission(request: HttpRequest, query, submission_id):  # noqa: ANN001, ANN202
    if not submission_id:
        return None
    return selectors.submission_list_for_user(user=request.user, visit=query.visit).filter(pk=submission_id).first()
