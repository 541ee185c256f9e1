"""The QC analysts' page of readers' image-quality queries (list, answer)."""
from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ictms.lib.pages import run_service
from reads import quality
from trials.pages import trial_page
from trials.selectors import TrialAccess


class AnswerForm(forms.Form):
    message = forms.CharField(label="Answer to the reader", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


@trial_page("perform_qc")
def quality_queries(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """Readers' questions about image quality, open ones first, with an answer form each."""
    rows = list(quality.quality_query_list_for_user(user=request.user, trial=access.trial))
    failed: dict[int, AnswerForm] = {}
    if request.method == "POST":
        query = next((q for q in rows if str(q.pk) == request.POST.get("query")), None)
        if query is None:
            raise Http404("No such query.")
        form = AnswerForm(request.POST)
        if form.is_valid() and run_service(form, lambda: quality.quality_query_answer(
                actor=cast(User, request.user), query=query, message=form.cleaned_data["message"])):
            messages.success(request, f"Answered the reader's query on {query.task.assignment.case.code}.")
            return redirect("reads:quality-queries", code=access.trial.code)
        failed[query.pk] = form
    items = [(q, failed.get(q.pk) or AnswerForm(auto_id=f"id_q{q.pk}_%s")) for q in rows]
    return render(request, "reads/quality_queries.html", {"trial": access.trial, "access": access, "items": items})
