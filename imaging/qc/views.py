"""Pages of quality control and queries: the QC queue and review, queries, overdue visits, the dashboard.

Views authorize, parse a form, call one service (imaging.qc.services / .queries) and render.
Reads come from the scoped selectors; the few page-only aggregations (dashboard counts, the
overdue list) are plain functions below that take already-scoped querysets.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from ictms.lib.charts import stacked_bar_chart, trend_chart
from ictms.lib.filters import filter_errors, filtered_or_none
from ictms.lib.forms import IsoDateField
from ictms.lib.pages import run_service
from imaging.archive.selectors import instance_list_for_user, series_list_for_user
from imaging.choices import (
    AGE_BUCKETS,
    QUERY_ACTIVE,
    QcReason,
    QcStatus,
    QueryCategory,
    Severity,
    age_bucket,
)
from imaging.models import QcFinding, Series
from imaging.pages import PAGE_SIZE, query_string, require_site_data, site_filter, visit_in_trial
from imaging.qc import adapter as qc_adapter
from imaging.qc import services as qc_services
from imaging.qc.filters import QcQueueFilterSet
from imaging.qc.rules import FindingCode, SeriesMeasurements
from imaging.qc.selectors import (
    current_findings,
    latest_qc_run,
    monthly_counts,
    qc_findings_for_visit,
    qc_queue_for_user,
    visit_first_pass_acceptance,
    visit_modalities,
    waiting_days,
    with_qc,
)
from imaging.queries import services
from imaging.queries.selectors import query_backlog_by_site, query_list_for_user
from trials import selectors as trial_selectors
from trials.choices import Modality, VisitState
from trials.models import ImagingRequirement, Visit
from trials.pages import trial_page
from trials.selectors import TrialAccess

THUMBNAILS_PER_SERIES = 5


SEVERITY_RANK = {Severity.BLOCKING: 3, Severity.WARNING: 2, Severity.INFO: 1}


class SeriesDecisionForm(forms.Form):
    status = forms.ChoiceField(choices=[(QcStatus.PASSED.value, "Pass"), (QcStatus.FAILED.value, "Fail")],
                               widget=forms.RadioSelect)
    reason = forms.ChoiceField(choices=[("", "— reason —"), *QcReason.choices])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Required when the series fails.")


class QueryRaiseForm(forms.Form):
    category = forms.ChoiceField(choices=QueryCategory.choices)
    series = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    subject = forms.CharField(max_length=255, required=False, help_text="One line; the start of the message if blank.")
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}),
                              help_text="What the site must do, in words a site coordinator understands.")
    requests_reupload = forms.BooleanField(required=False, initial=True, label="Ask the site to send images again")
    due_date = IsoDateField(required=False)

    def __init__(self, *args: Any, series: Sequence[Series] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["series"].choices = [("", "the whole visit"), *((s.pk, str(s)) for s in series)]


class VisitAcceptForm(forms.Form):
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Optional note kept in the audit trail.")


def qc_queue_context(request: HttpRequest, access: TrialAccess) -> dict[str, Any]:
    """What the queue partial (imaging/_qc_queue.html) shows: visits awaiting QC, oldest first."""
    sites, site = site_filter(request, access)
    queue = qc_queue_for_user(user=request.user, trial=access.trial, oversight=True)
    filterset = QcQueueFilterSet(request.GET, queryset=queue,
                                 request=request, trial=access.trial, sites=sites)
    page = Paginator(filtered_or_none(filterset), PAGE_SIZE).get_page(request.GET.get("page"))
    visits = list(page.object_list)
    modalities = visit_modalities(v.pk for v in visits)
    today = timezone.localdate()
    rows = [{"visit": v, "waiting_days": waiting_days(v, today), "modalities": modalities.get(v.pk, [])} for v in visits]
    return {
        "trial": access.trial, "queue_rows": rows, "queue_page": page, "queue_sites": sites, "queue_site": site,
        "queue_modality": request.GET.get("modality", ""), "modality_choices": Modality.choices,
        "queue_filter_errors": filter_errors(filterset.errors),
        "queue_query": query_string(request), "show_site_filter": len(sites) > 1,
    }


@trial_page("view_all_sites")
def qc_queue(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The visits waiting for QC; core-lab roles without the QC right see it read-only (as the QC page)."""
    return render(request, "imaging/qc_queue.html", {"trial": access.trial, "access": access,
                                                     **qc_queue_context(request, access)})


@dataclass(frozen=True)
class ParameterRow:
    """One header value next to what the requirement asks; `severity` is set when a finding flags it."""

    label: str
    measured: str
    expected: str
    severity: str = ""


# Which finding codes speak about which displayed value (presentation only: the rules are in imaging.qc.rules).
_C = FindingCode


ROW_CODES: dict[str, set[str]] = {
    "Modality": {_C.WRONG_MODALITY, _C.MIXED_MODALITY},
    "Images / slices": {_C.TOO_FEW_SLICES, _C.MISSING_SLICES, _C.INSTANCE_NUMBER_GAP, _C.DUPLICATE_SLICES,
                        _C.UNREADABLE_INSTANCES},
    "Slice thickness": {_C.SLICE_THICKNESS_EXCEEDED, _C.SLICE_THICKNESS_MISSING},
    "Slice spacing": {_C.IRREGULAR_SLICE_SPACING, _C.SLICES_NOT_CONTIGUOUS, _C.SLICE_POSITION_MISSING,
                      _C.MIXED_ORIENTATION},
    "Pixel spacing": {_C.PIXEL_SPACING_OUT_OF_RANGE, _C.PIXEL_SPACING_MISSING},
    "Matrix": {_C.MATRIX_TOO_SMALL, _C.MIXED_IMAGE_SIZE},
    "Coverage": {_C.COVERAGE_TOO_SHORT},
    "Contrast": {_C.CONTRAST_MISSING, _C.CONTRAST_NOT_ALLOWED, _C.CONTRAST_UNCERTAIN},
}


del _C


def _num(value: float | Decimal | None) -> str:
    if value is None:
        return ""
    return f"{float(value):.3f}".rstrip("0").rstrip(".")


def _span(pair: tuple[float, float] | None, unit: str) -> str:
    if not pair:
        return "not recorded"
    low, high = pair
    return f"{_num(low)} {unit}" if _num(low) == _num(high) else f"{_num(low)}–{_num(high)} {unit}"


def _between(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{_num(low)}–{_num(high)} {unit}"
    if low is not None:
        return f"≥ {_num(low)} {unit}"
    if high is not None:
        return f"≤ {_num(high)} {unit}"
    return "any"


def parameter_rows(m: SeriesMeasurements | None, req: ImagingRequirement | None,
                   findings: Sequence[QcFinding]) -> list[ParameterRow]:
    """The series' header values beside the requirement's limits, flagged by the current findings."""
    worst: dict[str, str] = {}
    for finding in findings:
        for label, codes in ROW_CODES.items():
            if finding.code in codes and SEVERITY_RANK.get(finding.severity, 0) > SEVERITY_RANK.get(worst.get(label, ""), 0):
                worst[label] = finding.severity
    if m is None:
        return []
    dash = "—"
    spacing_rule = dash
    if req is not None:
        spacing_rule = f"regular (± {_num(req.slice_gap_tolerance * 100)} %)"
        if req.require_contiguous_slices:
            spacing_rule += ", no gaps"
    values = [
        ("Modality", m.modality or "not recorded", req.modality if req else dash),
        ("Images / slices", f"{m.images} images, {m.slices} slices" + (f", {m.unreadable} unreadable" if m.unreadable else ""),
         (f"≥ {req.min_slices} slices" if req.min_slices else "no minimum") if req else dash),
        ("Slice thickness", _span(m.slice_thickness_mm, "mm"),
         (f"≤ {_num(req.max_slice_thickness_mm)} mm" if req.max_slice_thickness_mm is not None else "any") if req else dash),
        ("Slice spacing", f"{_num(m.slice_spacing_mm)} mm" if m.slice_spacing_mm is not None else "not measurable", spacing_rule),
        ("Pixel spacing", _span(m.pixel_spacing_mm, "mm"),
         _between(req.min_pixel_spacing_mm, req.max_pixel_spacing_mm, "mm") if req else dash),
        ("Matrix", f"{m.matrix[0]} × {m.matrix[1]}" if m.matrix else "not recorded",
         (f"≥ {req.min_matrix}" if req.min_matrix else "any") if req else dash),
        ("Coverage", f"{_num(m.coverage_mm)} mm" if m.coverage_mm is not None else "not measurable",
         (f"≥ {_num(req.min_coverage_mm)} mm" if req.min_coverage_mm is not None else "any") if req else dash),
        ("Contrast", m.contrast_agent or "none recorded", req.get_contrast_display() if req else dash),
    ]
    return [ParameterRow(label, measured, expected, worst.get(label, "")) for label, measured, expected in values]


def pick_evenly(count: int, wanted: int) -> list[int]:
    """Up to `wanted` indexes spread over range(count), first and last included."""
    if count <= wanted:
        return list(range(count))
    if wanted == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def thumbnail_urls(user: Any, visit: Visit) -> dict[int, list[str]]:
    """A few frames of each series of the visit, spread through the stack (one query)."""
    rows = (instance_list_for_user(user=user).filter(series__study__visit=visit)
            .values_list("series_id", "id", "number_of_frames"))
    by_series: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for series_id, instance_id, frames in rows:
        by_series[series_id].append((instance_id, frames or 1))
    out: dict[int, list[str]] = {}
    for series_id, instances in by_series.items():
        if len(instances) == 1 and instances[0][1] > 1:  # one multi-frame image: spread over its frames
            instance_id, frames = instances[0]
            out[series_id] = [
                reverse("imaging-viewer-api:frame-rendered", kwargs={"pk": instance_id, "frame": f}) + "?size=128&format=jpeg"
                for f in pick_evenly(frames, THUMBNAILS_PER_SERIES)
            ]
        else:
            out[series_id] = [reverse("imaging-viewer-api:instance-thumbnail", kwargs={"pk": instances[i][0]})
                              for i in pick_evenly(len(instances), THUMBNAILS_PER_SERIES)]
    return out


@dataclass
class SeriesReview:
    series: Series
    findings: list[QcFinding]
    rows: list[ParameterRow]
    requirement: ImagingRequirement | None
    thumbnails: list[str]
    form: SeriesDecisionForm


def _review_context(request: HttpRequest, access: TrialAccess, visit: Visit, series: list[Series],
                    decide_forms: dict[int, SeriesDecisionForm], raise_form: QueryRaiseForm,
                    accept_form: VisitAcceptForm) -> dict[str, Any]:
    trial = access.trial
    requirements = list(trial_selectors.imaging_requirement_list_for_user(user=request.user, trial=trial)
                        .filter(timepoint=visit.timepoint_id))
    by_id = {r.pk: r for r in requirements}
    # What the last run concluded, as it stored it: the same run wrote the findings shown below.
    run = latest_qc_run(visit=visit)
    measured = qc_adapter.stored_measurements(run.measurements) if run else {}
    matches = {m["requirement_id"]: m for m in run.matches} if run else {}
    requirement_of: dict[str, ImagingRequirement] = {}
    for match in matches.values():
        for uid in match["series_uids"]:
            if match["requirement_id"] in by_id:
                requirement_of.setdefault(uid, by_id[match["requirement_id"]])
    thumbs = thumbnail_urls(request.user, visit)
    reviews = []
    for s in series:
        findings = current_findings(s)
        requirement = requirement_of.get(s.series_uid)
        reviews.append(SeriesReview(s, findings, parameter_rows(measured.get(s.series_uid), requirement, findings),
                                    requirement, thumbs.get(s.pk, []), decide_forms[s.pk]))
    all_findings = list(qc_findings_for_visit(visit=visit, current=False))
    can_qc = access.can("perform_qc")
    problems = qc_services.visit_acceptance_problems(visit)
    return {
        "trial": trial, "access": access, "visit": visit, "status": visit.status(timezone.localdate()),
        "window": visit.window(), "waiting_days": waiting_days(visit), "reviews": reviews,
        "requirements": [(r, matches.get(r.pk)) for r in requirements], "qc_run": run,
        "visit_findings": [f for f in all_findings if f.is_current and f.series_id is None],
        "history": [f for f in all_findings if not f.is_current],
        "queries": query_list_for_user(user=request.user).filter(visit=visit),
        "problems": problems, "can_qc": can_qc,
        "accepted": visit.state in (VisitState.ACCEPTED, VisitState.READ),
        "raise_form": raise_form, "accept_form": accept_form,
    }


@trial_page("view_all_sites")
def qc_visit(request: HttpRequest, access: TrialAccess, visit_id: int) -> HttpResponse:
    """Review one visit: series with thumbnails and header values, findings, decisions, queries, acceptance.

    Core-lab roles without the QC right (admin, sponsor, auditor) see it read-only.
    """
    visit = visit_in_trial(request, access, visit_id)
    trial = access.trial
    series = list(with_qc(series_list_for_user(user=request.user, visit=visit)))
    by_id = {s.pk: s for s in series}
    decide_forms = {s.pk: SeriesDecisionForm(prefix=f"s{s.pk}", initial={"status": s.qc_status, "reason": s.qc_reason,
                                                                          "comment": s.qc_comment}) for s in series}
    # The form shows the date the service would pick anyway (the trial's query_due_days).
    due = trial.query_due_date(timezone.localdate())
    raise_form = QueryRaiseForm(prefix="q", series=series, initial={"due_date": due, "requests_reupload": True})
    accept_form = VisitAcceptForm(prefix="a")
    here = reverse("imaging:qc-visit", kwargs={"code": trial.code, "visit_id": visit.pk})
    if request.method == "POST":
        if not access.can("perform_qc"):
            raise PermissionDenied
        which = request.POST.get("form")
        if which == "decide":
            target = by_id.get(int(request.POST.get("series") or 0) if (request.POST.get("series") or "").isdigit() else 0)
            if target is None:
                raise Http404("No such series in this visit.")
            form = SeriesDecisionForm(request.POST, prefix=f"s{target.pk}")
            decide_forms[target.pk] = form
            if form.is_valid() and run_service(form, lambda: qc_services.series_qc_decide(
                    actor=request.user, series=target, **form.cleaned_data)):
                messages.success(request, f"{target}: {QcStatus(form.cleaned_data['status']).label.lower()}.")
                return redirect(f"{here}#series-{target.pk}")
        elif which == "raise":
            raise_form = QueryRaiseForm(request.POST, prefix="q", series=series)
            if raise_form.is_valid():
                values = dict(raise_form.cleaned_data)
                values["series"] = by_id.get(values["series"]) if values["series"] else None
                query = run_service(raise_form, lambda: services.query_raise(actor=request.user, visit=visit, **values))
                if query:
                    messages.success(request, f"Query {query.pk} sent to site {visit.participant.site.number}.")
                    return redirect(f"{here}#queries")
        elif which == "accept":
            accept_form = VisitAcceptForm(request.POST, prefix="a")
            if accept_form.is_valid() and run_service(accept_form, lambda: qc_services.visit_qc_accept(
                    actor=request.user, visit=visit, comment=accept_form.cleaned_data["comment"])):
                messages.success(request, f"{visit.participant.subject_code} {visit.timepoint.label} accepted.")
                return redirect(here)
        else:
            raise Http404
    context = _review_context(request, access, visit, series, decide_forms, raise_form, accept_form)
    return render(request, "imaging/qc_visit.html", context)


@trial_page()
def overdue_visits(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    require_site_data(access)
    sites, site = site_filter(request, access)
    today = timezone.localdate()
    rows = trial_selectors.visit_overdue_list(user=request.user, trial=access.trial, site=site, today=today)
    per_site: dict[int, Counter] = defaultdict(Counter)
    for row in rows:
        per_site[row.visit.participant.site_id]["missing" if row.visit.state == VisitState.EXPECTED else "review"] += 1
    shown = [s for s in sites if site is None or s.pk == site.pk]
    chart = stacked_bar_chart(
        [(f"{s.number} {s.name}", [per_site[s.pk]["missing"], per_site[s.pk]["review"]]) for s in shown],
        [("missing", "No images yet"), ("review", "Received, not accepted")],
    )
    return render(request, "imaging/qc_overdue_visits.html", {
        "trial": access.trial, "access": access, "rows": rows, "sites": sites, "site": site, "today": today,
        "chart": chart, "show_site_filter": len(sites) > 1,
    })


@trial_page("view_all_sites")
def qc_dashboard(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The core lab's view: query backlog by site and by age, first-pass QC acceptance per site."""
    sites = list(trial_selectors.site_list_for_user(user=request.user, trial=access.trial))
    active = list(query_list_for_user(user=request.user)
                  .filter(visit__participant__trial=access.trial, state__in=QUERY_ACTIVE))
    backlog = query_backlog_by_site(queries=active)
    bucket_keys = [(f"age{i}", f"{name} days") for i, name in enumerate(AGE_BUCKETS)]
    empty = {"open": 0, "answered": 0, "ages": [0] * len(AGE_BUCKETS), "overdue": 0}
    by_site = stacked_bar_chart([(f"{s.number} {s.name}", backlog.get(s.pk, empty)["ages"]) for s in sites], bucket_keys)
    states = {"open": [0] * len(AGE_BUCKETS), "answered": [0] * len(AGE_BUCKETS)}
    today = timezone.localdate()
    for q in active:
        states[q.state][age_bucket(q.age_days(today))] += 1
    by_age = stacked_bar_chart(
        [(f"{name} days", [states["open"][i], states["answered"][i]]) for i, name in enumerate(AGE_BUCKETS)],
        [("open", "Open (site to answer)"), ("answered", "Answered (QC to review)")],
    )
    first_pass = visit_first_pass_acceptance(user=request.user, trial=access.trial)
    fp_rows = []
    for s in sites:
        total, clean = first_pass.get(s.pk, (0, 0))
        pct = round(100 * clean / total) if total else 0
        fp_rows.append((f"{s.number} {s.name}", [pct, 100 - pct if total else 0],
                        f"{pct} % · {clean} of {total}" if total else "no accepted visit yet"))
    fp_chart = stacked_bar_chart(fp_rows, [("pass", "First pass"), ("rest", "Needed a query")], maximum=100, unit=" %")
    site_rows = [(s, backlog.get(s.pk, empty), first_pass.get(s.pk, (0, 0))) for s in sites]
    monthly = monthly_counts(user=request.user, trial=access.trial)
    trend = trend_chart([m for m, *_ in monthly], [
        ("enrolled", "Participants enrolled", [r[1] for r in monthly]),
        ("received", "Visits with images received", [r[2] for r in monthly]),
        ("backlog", "Queries unresolved at month end", [r[3] for r in monthly]),
    ])
    age_rows = [(f"{name} days", states["open"][i], states["answered"][i]) for i, name in enumerate(AGE_BUCKETS)]
    return render(request, "imaging/qc_dashboard.html", {
        "monthly": monthly, "trend_chart": trend, "age_rows": age_rows,
        "trial": access.trial, "access": access, "by_site": by_site, "by_age": by_age, "fp_chart": fp_chart,
        "site_rows": site_rows, "total_active": len(active), "ages": list(AGE_BUCKETS),
        "total_overdue": sum(v["overdue"] for v in backlog.values()),
        "queue_size": qc_queue_for_user(user=request.user, trial=access.trial, oversight=True).count(),
    })
