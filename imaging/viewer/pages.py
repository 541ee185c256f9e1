"""The viewer pages: one visit's series, or every visit of a participant (baseline vs follow-up).

The page is a shell; its script (static/js/viewer.js) loads the series, instances, frames and
measurements from the viewer API, which scopes everything to the user again.
"""
from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

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


def _config(request: HttpRequest, access: TrialAccess, visits: list[Visit], *, participant_id: int | None,
            compare: bool) -> dict[str, Any]:
    return {
        "trial": access.trial.code,
        "visits": [_visit_item(v) for v in visits],
        "participant": participant_id,
        "compare": compare,
        "canMeasure": measurement_tools_shown(access=access),
        "user": request.user.get_username(),
        "presets": _presets(),
        "api": {
            "series": reverse("imaging-viewer-api:series-list"),
            "instances": reverse("imaging-viewer-api:instance-list"),
            "measurements": reverse("imaging-viewer-api:measurement-list"),
        },
    }


@trial_page()
def visit_viewer(request: HttpRequest, access: TrialAccess, visit_id: int) -> HttpResponse:
    """Every series of one visit."""
    visit = trial_selectors.visit_list_for_user(user=request.user, trial=access.trial).filter(pk=visit_id).first()
    if visit is None:
        raise Http404("No such visit.")
    participant = visit.participant
    return render(request, "imaging/viewer.html", {
        "trial": access.trial, "access": access, "participant": participant, "visit": visit,
        "config": _config(request, access, [visit], participant_id=participant.pk, compare=False),
    })


@trial_page()
def participant_viewer(request: HttpRequest, access: TrialAccess, participant_id: int) -> HttpResponse:
    """Every visit of a participant, two viewports side by side (baseline on the left)."""
    participant = (trial_selectors.participant_list_for_user(user=request.user, trial=access.trial)
                   .filter(pk=participant_id).first())
    if participant is None:
        raise Http404("No such participant.")
    visits = list(trial_selectors.visit_list_for_user(user=request.user, trial=access.trial, participant=participant))
    return render(request, "imaging/viewer.html", {
        "trial": access.trial, "access": access, "participant": participant, "visit": None,
        "config": _config(request, access, visits, participant_id=participant.pk, compare=True),
    })
