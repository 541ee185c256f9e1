"""The sponsor's dashboard (the sponsor's trial home; trial admins may open it too).

Enrolment and imaging received per month, visits by status per timepoint, QC first-pass acceptance
and query turnaround per site, reading progress, and from final results only a waterfall plot of
each subject's best percentage change in the sum of diameters and a spider plot of the change over
time, coloured by best overall response. Subject codes are shown, never the treatment arm, never a
pending or unsigned read. Constant queries whatever the number of participants.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ictms.lib.charts import spider_chart, stacked_bar_chart, trend_chart, waterfall_chart
from imaging.choices import QueryState
from imaging.qc.selectors import monthly_counts, visit_first_pass_acceptance
from imaging.queries.selectors import query_list_for_user
from reads import adjudication as adj
from reads.choices import Paradigm, ReadTaskState, ResultSource
from reads.models import ReadDesign, ReadTask
from trials import selectors as trial_selectors
from trials.choices import VisitState, VisitStatus
from trials.models import TimepointDefinition
from trials.pages import trial_page
from trials.selectors import TrialAccess

STATUS_ORDER = [VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE, VisitStatus.NOT_SCHEDULED,
                VisitStatus.RECEIVED, VisitStatus.IN_QC, VisitStatus.ACCEPTED, VisitStatus.READ]
# Best overall response: css key and words, in the legend's order.
RESPONSES = [("CR", "cr", "Complete response"), ("PR", "pr", "Partial response"), ("SD", "sd", "Stable disease"),
             ("NON_CR_NON_PD", "noncr", "Non-CR/Non-PD"), ("PD", "pd", "Progressive disease"),
             ("NE", "ne", "Not evaluable")]
RESPONSE_KEY = {code: key for code, key, _w in RESPONSES}
RESPONSE_WORDS = {code: words for code, _k, words in RESPONSES}


def _monthly(request: HttpRequest, access: TrialAccess, visits: list[Any]) -> dict[str, Any]:
    rows = [(m, enrolled, received) for m, enrolled, received, _backlog in
            monthly_counts(user=request.user, trial=access.trial)]
    chart = trend_chart([r[0] for r in rows], [("enrolled", "Participants enrolled", [r[1] for r in rows]),
                                               ("received", "Visits with images received", [r[2] for r in rows])])
    return {"monthly": rows, "monthly_chart": chart}


def _by_timepoint(access: TrialAccess, visits: list[Any]) -> dict[str, Any]:
    today = timezone.localdate()
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for v in visits:
        counts[v.timepoint_id][v.status(today).value] += 1
    timepoints = list(TimepointDefinition.objects.filter(trial=access.trial).order_by("order"))
    keys = [(s.value, s.label) for s in STATUS_ORDER]
    rows = [(f"{t.code} {t.label}", [counts[t.pk].get(s.value, 0) for s in STATUS_ORDER]) for t in timepoints]
    return {"status_keys": keys, "status_rows": rows,
            "status_chart": stacked_bar_chart(rows, [(f"status-{k}", label) for k, label in keys])}


def _per_site(request: HttpRequest, access: TrialAccess) -> dict[str, Any]:
    sites = list(trial_selectors.site_list_for_user(user=request.user, trial=access.trial))
    first_pass = visit_first_pass_acceptance(user=request.user, trial=access.trial)
    resolved = (query_list_for_user(user=request.user)
                .filter(visit__participant__trial=access.trial, state=QueryState.RESOLVED, closed_at__isnull=False)
                .values_list("visit__participant__site_id", "created_at", "closed_at"))
    days: dict[int, list[float]] = defaultdict(list)
    for site_id, opened, closed in resolved:
        if closed is None:  # excluded by the filter; narrows the type
            continue
        days[site_id].append((closed - opened).total_seconds() / 86400)
    rows, fp_rows, turnaround_rows = [], [], []
    for s in sites:
        name = f"{s.number} {s.name}"
        total, clean = first_pass.get(s.pk, (0, 0))
        pct = round(100 * clean / total) if total else None
        median = round(statistics.median(days[s.pk]), 1) if days[s.pk] else None
        rows.append({"site": name, "accepted": total, "first_pass": clean, "pct": pct,
                     "resolved": len(days[s.pk]), "median_days": median})
        fp_rows.append((name, [pct or 0, 100 - (pct or 0) if total else 0],
                        f"{pct} % · {clean} of {total}" if total else "no accepted visit yet"))
        turnaround_rows.append((name, [round(median or 0)], f"{median} days · {len(days[s.pk])} resolved"
                                if median is not None else "no resolved query yet"))
    return {
        "site_rows": rows,
        "fp_chart": stacked_bar_chart(fp_rows, [("pass", "First pass"), ("rest", "Needed a query")],
                                      maximum=100, unit=" %"),
        "turnaround_chart": stacked_bar_chart(turnaround_rows, [("turnaround", "Median days open → resolved")],
                                              unit=" d"),
    }


def _reading(access: TrialAccess, visits: list[Any], results: list[adj.CaseResult]) -> dict[str, Any]:
    design = ReadDesign.objects.filter(trial=access.trial).first()
    readers = 0 if design is None else (1 if design.paradigm == Paradigm.SINGLE else 2)
    accepted = [v for v in visits if v.state in (VisitState.ACCEPTED, VisitState.READ)]
    follow_ups = sum(1 for v in accepted if not v.timepoint.is_baseline)
    signed = ReadTask.objects.filter(assignment__case__trial=access.trial, state=ReadTaskState.SIGNED).count()
    available = len(accepted) * readers
    final = sum(1 for r in results if r.source != ResultSource.PENDING)
    rows = [("Reads signed", signed, available), ("Follow-up timepoints with a final result", final, follow_ups)]
    chart = stacked_bar_chart([(label, [done, max(total - done, 0)], f"{done} of {total}") for label, done, total in rows],
                              [("pass", "Done"), ("rest", "To do")], width=640, label_width=250)
    return {"reading_rows": rows, "reading_chart": chart, "readers": readers}


def _oncology(results: list[adj.CaseResult]) -> dict[str, Any]:
    """Waterfall and spider plots from final results only (pending rows never reach here)."""
    by_subject: dict[str, list[adj.CaseResult]] = defaultdict(list)
    for r in results:
        if r.source != ResultSource.PENDING and r.task is not None and r.task.state == ReadTaskState.SIGNED:
            by_subject[r.case.participant.subject_code].append(r)
    subjects: list[dict[str, Any]] = []
    for code, rows in by_subject.items():
        rows.sort(key=lambda r: r.timepoint_order)
        changes = [(r, r.value("change_from_baseline_pct")) for r in rows]
        points = [(round((r.task.days_since_baseline or 0) / 7, 1) if r.task else 0.0, float(pct))
                  for r, pct in changes if pct is not None]
        best_response = rows[-1].value("best_response") or "NE"
        subjects.append({
            "subject": code, "best_response": best_response,
            "best_response_words": RESPONSE_WORDS.get(best_response, best_response),
            "key": RESPONSE_KEY.get(best_response, "ne"),
            "best_pct": min((p for _w, p in points), default=None),
            "points": [(0.0, 0.0), *points],
        })
    waterfall = sorted((s for s in subjects if s["best_pct"] is not None), key=lambda s: (-s["best_pct"], s["subject"]))
    legend = [(key, words) for code, key, words in RESPONSES if any(s["best_response"] == code for s in subjects)]
    return {
        "waterfall": waterfall, "spider": sorted(subjects, key=lambda s: s["subject"]),
        "waterfall_chart": waterfall_chart([(f"bor-{s['key']}", s["subject"], s["best_pct"]) for s in waterfall],
                                           legend=[(f"bor-{k}", w) for k, w in legend]),
        "spider_chart": spider_chart([(f"bor-{s['key']}", s["subject"], s["points"]) for s in subjects
                                      if len(s["points"]) > 1],
                                     legend=[(f"bor-{k}", w) for k, w in legend], x_unit=" wk"),
    }


@trial_page()
def dashboard(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The sponsor's view of the trial's progress and final tumour response."""
    results = adj.results_for(access, final_only=True)
    if results is None:
        raise PermissionDenied
    visits = list(trial_selectors.visit_list_for_user(user=request.user, trial=access.trial))
    context: dict[str, Any] = {"trial": access.trial, "access": access}
    context.update(_monthly(request, access, visits))
    context.update(_by_timepoint(access, visits))
    context.update(_per_site(request, access))
    context.update(_reading(access, visits, results))
    context.update(_oncology(results))
    return render(request, "reads/dashboard.html", context)
