"""The read-package page: the sponsor (or a trial admin) requests a package, follows its build, downloads it.

Everything goes through reads.packages: the request (audited, queued for the Celery task), the list of
the trial's packages and the streamed, audited download. The page shows each package's progress as
files written / total with a bar; `static/js/packages.js` follows unfinished builds through
`/api/read-packages/{id}/` and fills the row in place when one is ready.
"""
from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ictms.lib.errors import DomainError
from ictms.lib.forms import IsoDateField
from ictms.lib.pages import run_service
from imaging.pages import require_this_trial
from reads import packages
from trials.pages import trial_page
from trials.selectors import TrialAccess


class PackageRequestForm(forms.Form):
    cutoff = IsoDateField(
        required=False, label="Cut-off date",
        help_text="Only visits scanned on or before this date (YYYY-MM-DD). Leave empty for every visit.")
    subjects = forms.CharField(
        required=False, label="Subjects",
        help_text="Subject codes separated by commas or spaces. Leave empty for every subject with final reads.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. 101-001, 103-001", "autocomplete": "off"}))

    def subject_codes(self) -> list[str] | None:
        text = self.cleaned_data.get("subjects") or ""
        codes = [c for c in text.replace(",", " ").split() if c]
        return codes or None


@trial_page("view_progress")
def read_packages(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The trial's read packages, newest first, and the form that requests one."""
    form = PackageRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        package = run_service(form, lambda: packages.read_package_request(
            actor=cast(User, request.user), trial=access.trial, cutoff=form.cleaned_data.get("cutoff"),
            subjects=form.subject_codes()))
        if package is not None:
            messages.success(request, f"Read package {package.pk} requested: it is being built; "
                                      "this page follows its progress.")
            return redirect(reverse("reads:packages", args=[access.trial.code]) + f"#package-{package.pk}")
    found = list(packages.read_package_list_for_user(user=request.user, trial=access.trial)
                 .select_related("requested_by"))
    return render(request, "reads/packages.html", {
        "trial": access.trial, "access": access, "form": form, "packages": found,
        "unfinished": any(p.unfinished for p in found),
    }, status=400 if request.method == "POST" else 200)


@trial_page("view_progress")
def read_package_download(request: HttpRequest, access: TrialAccess, package_id: int) -> HttpResponse:
    """Stream a ready package's zip (audited by the service); an unfinished one sends the user back to the list."""
    package = packages.read_package_get_for_user(user=request.user, pk=package_id)
    require_this_trial(access, package.trial_id)
    try:
        handle = packages.read_package_download(actor=cast(User, request.user), package=package)
    except DomainError as exc:  # not ready yet
        messages.error(request, f"Read package {package.pk}: {exc.message}")
        return redirect("reads:packages", access.trial.code)
    return FileResponse(handle, as_attachment=True, filename=package.download_name, content_type="application/zip")
