"""Intake pages: a visit's images and submissions, and the upload page."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ictms.lib.errors import DomainError
from ictms.lib.pages import run_service
from imaging.archive.selectors import series_list_for_user
from imaging.intake import services
from imaging.intake.forms import SubmissionOpenForm
from imaging.intake.selectors import (
    open_submission_for_visit,
    submission_file_counts,
    submission_file_counts_many,
    submission_get_for_user,
    submission_list_for_user,
)
from imaging.pages import require_this_trial, visit_in_trial
from imaging.qc.selectors import qc_findings_for_visit
from imaging.queries.selectors import query_list_for_user
from trials.models import Visit
from trials.pages import trial_page
from trials.selectors import TrialAccess


def _may_upload(request: HttpRequest, visit: Visit) -> tuple[bool, str]:
    """Whether to offer the upload, and if not the reason the service would give (none without the right)."""
    if not request.user.has_perm("trials.upload_images", visit.participant.site):
        return False, ""
    refusal = visit.image_refusal()
    return not refusal, refusal


@trial_page()
def visit_detail(request: HttpRequest, access: TrialAccess, visit_id: int) -> HttpResponse:
    visit = visit_in_trial(request, access, visit_id)
    submissions = list(submission_list_for_user(user=request.user, visit=visit))
    counts = submission_file_counts_many(submission_ids=[s.pk for s in submissions])
    series = series_list_for_user(user=request.user, visit=visit)
    may_upload, why_not = _may_upload(request, visit)
    # One open submission per visit: "Submit images" resumes it rather than opening another.
    resume = next((s for s in submissions if s.is_open), None) if may_upload else None
    return render(request, "imaging/visit_detail.html", {
        "trial": access.trial, "access": access, "visit": visit, "status": visit.status(dt.date.today()),
        "window": visit.window(), "submissions": [(s, counts.get(s.pk, {})) for s in submissions], "series": series,
        "may_upload": may_upload, "why_not": why_not, "resume": resume,
        "queries": query_list_for_user(user=request.user).filter(visit=visit),
        "findings": qc_findings_for_visit(visit=visit),
    })


@trial_page()
def submission_new(request: HttpRequest, access: TrialAccess, visit_id: int) -> HttpResponse:
    visit = visit_in_trial(request, access, visit_id)
    may_upload, why_not = _may_upload(request, visit)
    open_one = open_submission_for_visit(user=request.user, visit=visit) if may_upload else None
    if open_one is not None:  # resume the visit's open submission instead of opening a second one
        messages.info(request, f"Submission {open_one.pk} of this visit is still open: continue it here.")
        return redirect("imaging:submission", code=access.trial.code, submission_id=open_one.pk)
    form = SubmissionOpenForm(request.POST or None, initial={"scan_date": visit.scan_date})
    if request.method == "POST" and form.is_valid():
        submission = run_service(form, lambda: services.submission_open(actor=request.user, visit=visit, **form.cleaned_data))
        if submission:
            return redirect("imaging:submission", code=access.trial.code, submission_id=submission.pk)
    if not may_upload and request.method == "GET":
        messages.error(request, why_not or "Your role does not allow submitting images for this visit.")
        return redirect("imaging:visit", code=access.trial.code, visit_id=visit.pk)
    return render(request, "imaging/submission_new.html", {"trial": access.trial, "access": access, "visit": visit, "form": form})


@trial_page()
def submission_detail(request: HttpRequest, access: TrialAccess, submission_id: int) -> HttpResponse:
    submission = submission_get_for_user(user=request.user, pk=submission_id)
    require_this_trial(access, submission.visit.participant.trial_id)
    can_upload = request.user.has_perm("trials.upload_images", submission.visit.participant.site)
    # A submission opened before the trial was locked takes no more files (the service refuses them too).
    why_not = access.trial.data_refusal("no images can be submitted") if can_upload and submission.is_open else ""
    counts = submission_file_counts(submission=submission)
    return render(request, "imaging/submission_detail.html", {
        "trial": access.trial, "access": access, "submission": submission, "visit": submission.visit,
        "counts": counts, "why_not": why_not,
        "can_upload": can_upload and submission.is_open and not why_not, "chunk_size": settings.UPLOAD_CHUNK_MB * 2**20,
        "can_cancel": can_upload and submission.is_open and not counts,
    })


@require_POST
@trial_page()
def submission_cancel(request: HttpRequest, access: TrialAccess, submission_id: int) -> HttpResponse:
    """Cancel an empty, abandoned submission (the service refuses one that received files)."""
    submission = submission_get_for_user(user=request.user, pk=submission_id)
    require_this_trial(access, submission.visit.participant.trial_id)
    try:
        services.submission_cancel(actor=request.user, submission=submission)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("imaging:submission", code=access.trial.code, submission_id=submission.pk)
    messages.success(request, f"Submission {submission.pk} cancelled: it held no files.")
    return redirect("imaging:visit", code=access.trial.code, visit_id=submission.visit_id)
