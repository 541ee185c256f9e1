"""Pages of adjudication, final results and reader metrics (reads.md "Adjudication", "Reader metrics").

The adjudicator sees case codes, Reader 1 / Reader 2, timepoint labels and days since baseline only:
never a subject code, site, arm, date or reader name. Results are the trial admin's and the
sponsor's (the sponsor sees final rows only); metrics show readers by username to the trial admin and
by pseudonym to QC analysts and the sponsor. Every write goes through reads.adjudication.
"""
from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ictms.lib.charts import control_chart
from ictms.lib.errors import PermissionDeniedError
from ictms.lib.pages import run_service
from imaging.pages import require_this_trial
from imaging.viewer.pages import viewer_context
from reads import adjudication as adj
from reads.adjudication_api import adjudication_detail
from reads.choices import ADJUDICATION_MEANING, AdjudicationReason, AdjudicationState, ReadTaskState, ResultSource
from reads.models import Adjudication, ReadTask
from trials.models import Visit
from trials.pages import trial_page
from trials.selectors import TrialAccess

# What each trigger means, in words (the adjudicator's list and page).
TRIGGER_WORDS = {
    "best_response": "Best overall response differs",
    "progression": "Progression differs (whether or when)",
    "first_response": "First response at different timepoints",
    "overall_response": "Overall response differs at a timepoint",
}
RESPONSE_WORDS = {"NON_CR_NON_PD": "Non-CR/Non-PD"}
STATE_ORDER = {AdjudicationState.OPEN: 0, AdjudicationState.DECIDED: 1, AdjudicationState.SUPERSEDED: 2,
               AdjudicationState.VOID: 3}


def _triggers(triggers: list[str]) -> list[str]:
    return [TRIGGER_WORDS.get(t, t) for t in triggers]


def _timepoint_labels(rounds: list[Adjudication]) -> dict[tuple[int, int], str]:
    """(case id, reading position) -> timepoint label of the positions the rounds cover (one query)."""
    wanted = {(r.case_id, r.up_to) for r in rounds}
    tasks = (ReadTask.objects.filter(assignment__case_id__in={c for c, _ in wanted}, assignment__slot=1,
                                     sequence__in={s for _, s in wanted})
             .select_related("visit__timepoint", "assignment"))
    return {(t.assignment.case_id, t.sequence): t.visit.timepoint.label for t in tasks}


def _adjudication(request: HttpRequest, access: TrialAccess, adjudication_id: int) -> Adjudication:
    """The round if the caller is its adjudicator or a trial admin of its trial (else 404; others 403)."""
    if not (access.can("adjudicate") or access.can("manage_trial")):
        raise PermissionDenied
    found = adj.adjudication_get_for_user(user=request.user, pk=adjudication_id)
    require_this_trial(access, found.case.trial_id)
    return found


# --- the adjudicator's list -----------------------------------------------------------------------

@trial_page("adjudicate")
def adjudications(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The adjudicator's rounds: open ones first, oldest first."""
    rounds = [r for r in adj.adjudication_list_for_user(user=request.user, trial=access.trial)
              if r.adjudicator_id == request.user.pk]
    rounds.sort(key=lambda r: (STATE_ORDER.get(AdjudicationState(r.state), 9), r.created_at, r.pk))
    labels = _timepoint_labels(rounds)
    rows = [{"round": r, "triggers": _triggers(r.triggers), "timepoint": labels.get((r.case_id, r.up_to), "")}
            for r in rounds]
    return render(request, "reads/adjudications.html", {
        "trial": access.trial, "access": access, "rounds": rows,
        "open": sum(1 for r in rounds if r.state == AdjudicationState.OPEN),
    })


# --- one round ------------------------------------------------------------------------------------

class DecideForm(forms.Form):
    selected = forms.TypedChoiceField(label="The read that stands", coerce=int, widget=forms.RadioSelect,
                                      choices=[(1, "Reader 1"), (2, "Reader 2")])
    reason_code = forms.ChoiceField(label="Reason", choices=[("", "Choose a reason"), *AdjudicationReason.choices])
    rationale = forms.CharField(label="Rationale", widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


def _response(value: Any) -> str:
    if value in (None, ""):
        return "—"
    return RESPONSE_WORDS.get(str(value), str(value))


def _compare(detail: dict[str, Any], request: HttpRequest, access: TrialAccess, adjudication: Adjudication
             ) -> list[dict[str, Any]]:
    """Both reads as the page shows them, with what differs between them marked."""
    reads = {r["reader"]: r for r in detail["reads"]}
    overall = {slot: {t["timepoint_order"]: t["overall"] for t in r["timepoints"]} for slot, r in reads.items()}
    images = reverse("reads:adjudication-images", args=[access.trial.code, adjudication.pk])
    out = []
    for slot, read in sorted(reads.items()):
        other = reads.get(3 - slot)
        timepoints = []
        for t in read["timepoints"]:
            mine = overall[slot].get(t["timepoint_order"])
            theirs = overall.get(3 - slot, {}).get(t["timepoint_order"])
            timepoints.append({**t, "overall_words": _response(mine),
                               "differs": t["timepoint_order"] > 0 and other is not None and mine != theirs})
        lesions = []
        for lesion in read["lesions"]:
            observations = []
            for o in lesion["observations"]:
                m = o["measurement"]
                link = None
                if m is not None:
                    link = (f"{images}?series={m['series']}&instance={m['instance']}&frame={m['frame'] or 0}"
                            f"&measurement={m['id']}")
                observations.append({**o, "link": link})
            lesions.append({**lesion, "observations": observations})
        out.append({
            "slot": slot, "timepoints": timepoints, "lesions": lesions,
            "best_response": _response(read["best_response"]),
            "best_differs": other is not None and read["best_response"] != other["best_response"],
            "progression_timepoint": read["progression_timepoint"],
            "progression_days": read["progression_days_since_baseline"],
            "progression_differs": other is not None and (
                read["progression_timepoint"] != other["progression_timepoint"]),
        })
    return out


@trial_page()
def adjudication(request: HttpRequest, access: TrialAccess, adjudication_id: int) -> HttpResponse:
    """Both reads side by side; the decision form for the assigned adjudicator of an open round."""
    found = _adjudication(request, access, adjudication_id)
    can_decide = found.state == AdjudicationState.OPEN and found.adjudicator_id == request.user.pk
    form = DecideForm()
    status = 200
    if request.method == "POST":
        if not can_decide:
            raise PermissionDenied("Only the adjudicator assigned to this open round decides it.")
        form = DecideForm(request.POST)
        if form.is_valid():
            values = form.cleaned_data
            try:
                decided = run_service(form, lambda: adj.adjudication_decide(
                    actor=cast(User, request.user), adjudication=found, selected=values["selected"],
                    reason_code=values["reason_code"], rationale=values["rationale"], password=values["password"],
                    request=request))
            except PermissionDeniedError as exc:
                form.add_error("password", exc.message)
                decided, status = None, 403
            if decided:
                messages.success(request, f"Case {found.case.code}: Reader {decided.selected}'s read stands. "
                                          "Your decision is signed.")
                return redirect("reads:adjudication", code=access.trial.code, adjudication_id=found.pk)
        if status == 200:
            status = 400
    detail = adjudication_detail(found)
    labels = _timepoint_labels([found])
    return render(request, "reads/adjudication.html", {
        "trial": access.trial, "access": access, "adjudication": found, "reads": _compare(detail, request, access,
                                                                                         found),
        "triggers": _triggers(found.triggers), "timepoint": labels.get((found.case_id, found.up_to), ""),
        "can_decide": can_decide, "form": form, "meaning": ADJUDICATION_MEANING,
        "reason_label": dict(AdjudicationReason.choices).get(found.reason_code, found.reason_code),
    }, status=status)


@trial_page()
def adjudication_images(request: HttpRequest, access: TrialAccess, adjudication_id: int) -> HttpResponse:
    """The images the round compares (blinded viewer), opened at `?series=&instance=&frame=` if given."""
    found = _adjudication(request, access, adjudication_id)
    tasks = (ReadTask.objects.filter(assignment__case=found.case, sequence__lte=found.up_to,
                                     state=ReadTaskState.SIGNED)
             .select_related("visit__timepoint").order_by("sequence"))
    visits: dict[int, Visit] = {}
    for t in tasks:
        visits.setdefault(t.visit_id, t.visit)
    if not visits:
        raise Http404("No images to compare.")
    context = viewer_context(
        request, access, list(visits.values()), title=found.case.code, subtitle=f"Adjudication round {found.round}",
        page_title=f"{found.case.code} adjudication", back_label="Adjudication",
        back_url=reverse("reads:adjudication", args=[access.trial.code, found.pk]), can_measure=False)
    try:
        go_to = {k: int(request.GET[k]) for k in ("series", "instance")}
        go_to["frame"] = int(request.GET.get("frame") or 0)
        if request.GET.get("measurement"):
            go_to["measurement"] = int(request.GET["measurement"])
        context["config"]["goTo"] = go_to
    except (KeyError, ValueError):
        pass
    return render(request, "imaging/viewer.html", context)


# --- final results --------------------------------------------------------------------------------

@trial_page()
def results(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """Subject x timepoint: each case's final result (the admin also sees pending rows)."""
    admin = access.can("manage_trial")
    rows = adj.results_for(access)
    if rows is None:
        raise PermissionDenied
    sources = dict(ResultSource.choices)
    table = [{
        "subject": r.case.participant.subject_code, "case": r.case.code, "timepoint": r.timepoint,
        "timepoint_code": r.timepoint_code, "source": r.source, "source_label": sources.get(r.source, r.source),
        "reader": r.slot, "overall": _response(r.value("overall")), "sum_mm": r.value("sum_mm"),
        "best_response": _response(r.value("best_response")),
        "progression": r.value("progression_timepoint") or "",
    } for r in sorted(rows, key=lambda r: (r.case.participant.subject_code, r.timepoint_order))]
    return render(request, "reads/results.html", {
        "trial": access.trial, "access": access, "rows": table, "admin": admin,
        "pending": sum(1 for r in rows if r.source == ResultSource.PENDING),
    })


# --- reader metrics -------------------------------------------------------------------------------

REASON_WORDS = dict(AdjudicationReason.choices)


def _percent(ratio: dict[str, Any]) -> str:
    if ratio["percent"] is None:
        return "—"
    return f"{ratio['percent']} % ({ratio['numerator']}/{ratio['denominator']})"


@trial_page()
def metrics(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """Reader metrics: per reader, per pair, and each reader's adjudicator agreement as a p-chart."""
    admin = access.can("manage_trial")
    report = adj.metrics_for(access)
    if report is None:
        raise PermissionDenied
    data = report.to_dict()
    readers = [{
        **r, "adjudication": _percent(r["adjudication_rate"]),
        "agreement": _percent(r["adjudicator_agreement_rate"]),
        "rdi": _percent(r["reader_disagreement_index"]),
        "reasons": [(REASON_WORDS.get(k, k), n) for k, n in r["discordance_reasons"].items()],
    } for r in data["readers"]]
    charts = []
    for index, chart in enumerate(report.p_charts, start=1):
        points = [(p.label, float(p.p), p.lower_limit, p.upper_limit, p.out_of_control) for p in chart.points]
        layout = control_chart(points, None if chart.centre is None else float(chart.centre))
        charts.append({"reader": chart.reader, "chart": layout, "id": f"pchart-{index}",
                       "title": f"Adjudicator agreement with {chart.reader} over time",
                       "centre": None if chart.centre is None else round(float(chart.centre) * 100, 1),
                       "out": [p for p in layout.points if p.out_of_control]})
    return render(request, "reads/metrics.html", {
        "trial": access.trial, "access": access, "names": admin, "overall": data["overall"],
        "overall_rate": _percent(data["overall"]["adjudication_rate"]),
        "overall_reasons": [(REASON_WORDS.get(k, k), n) for k, n in data["overall"]["discordance_reasons"].items()],
        "readers": readers, "pairs": data["pairs"], "charts": charts, "grouping": data["p_chart_grouping"],
    })
