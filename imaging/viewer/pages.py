"""The viewer pages: one visit's series, or every visit of a participant (baseline vs follow-up).

The page is a shell; its script (static/js/viewer.js) loads the series, instances, frames and
measurements from the viewer API, which scopes everything to the user again. `viewer_context`
builds the template's context for other apps' pages (the reads task page shows a case code and
a timepoint label where these pages show a subject code).
"""
from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from imaging.archive.selectors import series_list_for_user
from imaging.archive.services import series_opened
from imaging.viewer import render as imaging_render
from imaging.viewer.measurements import measurement_tools_shown
from trials import selectors as trial_selectors
from trials.models import Visit
from trials.pages import trial_page
from trials.selectors import TrialAccess


def _presets() -> list[dict[str, Any]]:
    presets = [{"key": p.key, "label": p.label, "wc": p.center, "ww": p.width}
               for p in imaging_render.WINDOW_PRESETS.values()]
    return [*presets, {"key": "auto", "label": "Auto (from the image)", "wc": None, "ww": None}]


def _visit_item(visit: Visit) -> dict[str, Any]:
    return {"id": visit.pk, "code": visit.timepoint.code, "label": visit.timepoint.label,
            "baseline": visit.timepoint.is_baseline}


def viewer_config(request: HttpRequest, access: TrialAccess, visits: list[Visit], *, participant_id: int | None,
                  compare: bool, can_measure: bool | None = None) -> dict[str, Any]:
    """What static/js/viewer.js is configured with: the visits whose series it lists, rights and API urls.

    `can_measure` lets a page that knows better (the reads task page: the reader's open task) say
    whether to show the measurement tools; by default they follow the trial role.
    """
    return {
        "trial": access.trial.code,
        "visits": [_visit_item(v) for v in visits],
        "participant": participant_id,
        "compare": compare,
        "canMeasure": measurement_tools_shown(access=access) if can_measure is None else can_measure,
        "user": request.user.get_username(),
        "presets": _presets(),
        "api": {
            "series": reverse("imaging-viewer-api:series-list"),
            "instances": reverse("imaging-viewer-api:instance-list"),
            "measurements": reverse("imaging-viewer-api:measurement-list"),
        },
    }


def viewer_context(request: HttpRequest, access: TrialAccess, visits: list[Visit], *, title: str, subtitle: str,
                   page_title: str, back_url: str, back_label: str, participant_id: int | None = None,
                   compare: bool | None = None, can_measure: bool | None = None) -> dict[str, Any]:
    """The context of imaging/viewer.html: its heading, one link back, and the script's config.

    Loading a viewer page opens the images of its visits: audited once per series and page load.
    """
    if request.method == "GET":
        series_opened(actor=request.user, series=series_list_for_user(user=request.user).filter(study__visit__in=visits),
                      via="viewer")
    return {
        "trial": access.trial, "access": access, "viewer_title": title, "viewer_subtitle": subtitle,
        "viewer_page_title": page_title, "back_url": back_url, "back_label": back_label,
        "config": viewer_config(request, access, visits, participant_id=participant_id,
                                compare=len(visits) > 1 if compare is None else compare, can_measure=can_measure),
    }


@trial_page()
def visit_viewer(request: HttpRequest, access: TrialAccess, visit_id: int) -> HttpResponse:
    """Every series of one visit."""
    visit = trial_selectors.visit_list_for_user(user=request.user, trial=access.trial).filter(pk=visit_id).first()
    if visit is None:
        raise Http404("No such visit.")
    participant = visit.participant
    return render(request, "imaging/viewer.html", viewer_context(
        request, access, [visit], title=participant.subject_code,
        subtitle=f"{visit.timepoint.code} {visit.timepoint.label}",
        page_title=f"{participant.subject_code} {visit.timepoint.code}",
        back_url=reverse("viewer:participant", args=[access.trial.code, participant.pk]), back_label="Compare visits",
        participant_id=participant.pk, compare=False))


@trial_page()
def participant_viewer(request: HttpRequest, access: TrialAccess, participant_id: int) -> HttpResponse:
    """Every visit of a participant, two viewports side by side (baseline on the left)."""
    participant = (trial_selectors.participant_list_for_user(user=request.user, trial=access.trial)
                   .filter(pk=participant_id).first())
    if participant is None:
        raise Http404("No such participant.")
    visits = list(trial_selectors.visit_list_for_user(user=request.user, trial=access.trial, participant=participant))
    return render(request, "imaging/viewer.html", viewer_context(
        request, access, visits, title=participant.subject_code, subtitle="all visits",
        page_title=participant.subject_code,
        back_url=reverse("trials:participant", args=[access.trial.code, participant.pk]), back_label="Participant",
        participant_id=participant.pk, compare=True))
