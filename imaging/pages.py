"""Helpers shared by the imaging pages of every stage: the visit of a trial page, the site filter, blinding."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from trials import selectors as trial_selectors
from trials.models import Site, Visit
from trials.selectors import TrialAccess

PAGE_SIZE = 50  # rows per page of every imaging list


def require_this_trial(access: TrialAccess, trial_id: int) -> None:
    """404 for an object of another trial reached through this trial's URL.

    The object itself comes from a scoped selector; its NotFoundError becomes a 404 in trial_page.
    """
    if trial_id != access.trial.pk:
        raise Http404


def visit_in_trial(request: HttpRequest, access: TrialAccess, visit_id: int) -> Visit:
    visit = trial_selectors.visit_get_for_user(user=request.user, pk=visit_id)
    require_this_trial(access, visit.participant.trial_id)
    return visit


def site_filter(request: HttpRequest, access: TrialAccess) -> tuple[list[Site], Site | None]:
    sites = list(trial_selectors.site_list_for_user(user=request.user, trial=access.trial))
    number = request.GET.get("site") or ""
    chosen = next((s for s in sites if s.number == number), None)
    if number and chosen is None:
        raise Http404("No such site.")
    return sites, chosen


def require_site_data(access: TrialAccess) -> None:
    # Blinded roles (readers, adjudicators) never learn of sites, visits or queries.
    if not (access.all_sites or access.site_ids):
        raise PermissionDenied


def query_string(request: HttpRequest, drop: str = "page") -> str:
    params = request.GET.copy()
    params.pop(drop, None)
    return params.urlencode()
