"""Pages of the reads app: the read design and reader assignment (trial admin), the reader's worklist and
task page (reads.md); adjudication, results and metrics are reads.adjudication_views.

Readers and adjudicators see case codes, timepoint labels and days since baseline only: these pages
never show a subject code, site, arm or date to them. The assignment page is the one place where case
codes appear next to subject codes, for the (unblinded) trial admin. Every write goes through
reads.services.
"""
from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ictms.lib.pages import run_service
from imaging.pages import require_this_trial
from imaging.viewer.pages import viewer_context
from reads import selectors, services
from reads.choices import OPEN_TASK_STATES, SETTLED_TASK_STATES, SIGNATURE_MEANING, ReadTaskState
from reads.forms import ReadDesignForm, ReassignForm
from reads.models import ReadCase, ReadTask
from trials.choices import Role, VisitState
from trials.models import Membership
from trials.pages import trial_page
from trials.selectors import TrialAccess

ACCEPTED_VISIT_STATES = (VisitState.ACCEPTED, VisitState.READ)


# --- read design (trial admin) --------------------------------------------------------------------

def _actor(request: HttpRequest) -> User:
    """The signed-in user (trial_page has required one)."""
    return cast(User, request.user)


def _pools(access: TrialAccess) -> tuple[list[User], list[User]]:
    """Active readers and adjudicators of the trial (one query)."""
    rows = (Membership.objects.filter(trial=access.trial, is_active=True, role__in=(Role.READER, Role.ADJUDICATOR))
            .select_related("user").order_by("user__username"))
    readers: list[User] = []
    adjudicators: list[User] = []
    for m in rows:
        (readers if m.role == Role.READER else adjudicators).append(m.user)
    return readers, adjudicators


@trial_page("manage_trial")
def read_design(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    trial = access.trial
    design = selectors.read_design_get(trial=trial)
    readers, adjudicators = _pools(access)
    signed = selectors.any_signed(trial=trial)
    if request.method == "POST":
        form = ReadDesignForm(request.POST, readers=readers, adjudicators=adjudicators, signed=signed)
        if form.is_valid():
            values = dict(form.cleaned_data)
            saved = run_service(form, lambda: services.read_design_save(actor=_actor(request), trial=trial, **values))
            if saved:
                messages.success(request, f"Read design saved (version {saved.version}).")
                return redirect("reads:design", code=trial.code)
    else:
        form = ReadDesignForm(initial=ReadDesignForm.initial_from(design), readers=readers, adjudicators=adjudicators,
                              signed=signed)
    return render(request, "reads/design.html", {
        "trial": trial, "access": access, "design": design, "form": form, "signed": signed,
        "cases": ReadCase.objects.filter(trial=trial).count(),
    })


# --- assignment (trial admin) ---------------------------------------------------------------------

def _assignment_page(request: HttpRequest, access: TrialAccess, *, failed: tuple[int, ReassignForm] | None = None,
                     status: int = 200) -> HttpResponse:
    trial = access.trial
    design = selectors.read_design_get(trial=trial)
    overview = selectors.assignment_overview(trial=trial)
    pool = sorted(u.username for u in design.readers.all()) if design else []
    slots = range(1, (design.readers_per_case if design else 2) + 1)
    rows = []
    for row in overview.rows:
        if failed and failed[0] == row.case.pk:
            form = failed[1]
        else:
            form = ReassignForm(prefix=f"case-{row.case.pk}", pool=pool,
                                case_readers=[(s, a.reader.username) for s, a in sorted(row.slots.items())])
        rows.append({
            "case": row.case, "form": form,
            "slots": [(s, row.slots.get(s), row.tasks.get(s, [])) for s in slots],
        })
    return render(request, "reads/assignment.html", {
        "trial": trial, "access": access, "design": design, "rows": rows, "slots": list(slots),
        "loads": overview.loads, "failed_case": failed[0] if failed else None,
        "states": [(s.value, s.label) for s in ReadTaskState],
    }, status=status)


@trial_page("manage_trial")
def assignment(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    return _assignment_page(request, access)


@trial_page("manage_trial")
def case_reassign(request: HttpRequest, access: TrialAccess, case_id: int) -> HttpResponse:
    trial = access.trial
    if request.method != "POST":
        return redirect("reads:assignment", code=trial.code)
    case = selectors.read_case_get_for_user(user=request.user, pk=case_id)
    require_this_trial(access, case.trial_id)
    design = selectors.read_design_get(trial=trial)
    pool = sorted(u.username for u in design.readers.all()) if design else []
    readers = [(a.slot, a.reader.username) for a in case.assignments.select_related("reader").order_by("slot")]
    form = ReassignForm(request.POST, prefix=f"case-{case.pk}", pool=pool, case_readers=readers)
    if form.is_valid():
        values = form.cleaned_data
        moved = run_service(form, lambda: services.read_case_reassign(
            actor=_actor(request), case=case, from_username=values["from"], to_username=values["to"],
            reason=values["reason"]))
        if moved:
            messages.success(request, f"Case {case.code}: Reader {moved.slot} is now {moved.reader.username} "
                                      f"(was {values['from']}).")
            return redirect(f"{reverse('reads:assignment', args=[trial.code])}#case-{case.pk}")
    messages.error(request, f"Case {case.code} was not reassigned: see the errors in its row.")
    return _assignment_page(request, access, failed=(case.pk, form))


# --- the reader's worklist (the adjudicator's list is reads.adjudication_views) ---------------------------------------------------

@trial_page("read_images")
def worklist(request: HttpRequest, access: TrialAccess) -> HttpResponse:
    """The reader's tasks grouped by case, in their own randomized case order."""
    work = selectors.worklist(user=request.user, trial=access.trial)
    cases = [{
        "code": group.case.code, "tasks": group.tasks, "signed": group.signed,
        "total": sum(1 for t in group.tasks if t.state != ReadTaskState.NOT_REQUIRED),
    } for group in work.cases]
    return render(request, "reads/worklist.html", {
        "trial": access.trial, "access": access, "work": work, "cases": cases,
        "open_states": [s.value for s in OPEN_TASK_STATES],
    })


# --- one read task (its own reader only) ----------------------------------------------------------------

def _why_waiting(task: ReadTask) -> str:
    if task.state == ReadTaskState.NOT_DONE:
        return "The trial admin marked this timepoint not done (no images within the visit window); it is not read."
    if task.state == ReadTaskState.NOT_REQUIRED:
        return "Reading of this case stopped after confirmed progression; this timepoint is not read."
    earlier = (ReadTask.objects.filter(assignment_id=task.assignment_id, sequence__lt=task.sequence)
               .exclude(state__in=SETTLED_TASK_STATES).select_related("visit__timepoint").order_by("sequence").first())
    if earlier is not None:
        return (f"Timepoints are read in order: sign {earlier.visit.timepoint.label} of this case first. "
                "This one opens when it is signed.")
    if task.visit.state not in ACCEPTED_VISIT_STATES:
        return "The images of this timepoint have not been accepted by QC yet. It opens when they are."
    return "This timepoint opens when the timepoints before it are settled."


def _days(task: ReadTask) -> str:
    if task.days_since_baseline is None:
        return "days since baseline not known yet"
    return f"day {task.days_since_baseline}"


# Tasks whose reader still records lesions and observations (and measures on their images).
EDITABLE_TASK_STATES = (ReadTaskState.READY, ReadTaskState.IN_PROGRESS)


def _reading_context(request: HttpRequest, access: TrialAccess, task: ReadTask) -> dict[str, Any]:
    """What the reading panel beside the viewer shows and what static/js/reading.js is configured with."""
    trial = access.trial
    editable = task.state in EDITABLE_TASK_STATES
    signatures = list(task.signatures.order_by("signed_at"))
    current = next((sig for sig in signatures if not sig.superseded), None)
    next_task = None
    if task.state == ReadTaskState.SIGNED:
        next_task = selectors.worklist(user=request.user, trial=trial).next_task
    return {
        "task": task, "editable": editable, "baseline": task.sequence == 0, "meaning": SIGNATURE_MEANING,
        "signature": current, "signature_history": [sig for sig in signatures if sig.superseded],
        "next_task": next_task,
        "reading_config": {
            "task": task.pk, "visit": task.visit_id, "state": task.state, "editable": editable,
            "baseline": task.sequence == 0, "meaning": SIGNATURE_MEANING,
            "api": {
                "task": reverse("reads-api:read-task-detail", args=[task.pk]),
                "organs": reverse("reads-api:read-organs"),
            },
        },
    }


@trial_page()
def task(request: HttpRequest, access: TrialAccess, task_id: int) -> HttpResponse:
    """An open task shows its images in the viewer (with the earlier timepoints) and the reading panel
    beside it; any other state says why not. Only its own reader opens it (404 for anyone else)."""
    read_task = selectors.read_task_get_for_user(user=request.user, pk=task_id)
    case = read_task.assignment.case
    require_this_trial(access, case.trial_id)
    label = read_task.visit.timepoint.label
    if read_task.state not in OPEN_TASK_STATES:
        return render(request, "reads/task_waiting.html", {
            "trial": access.trial, "access": access, "task": read_task, "case": case, "label": label,
            "days": _days(read_task), "why": _why_waiting(read_task),
        })
    visits = [t.visit for t in selectors.task_visits(task=read_task)]
    if not visits:
        raise Http404("No such read task.")
    context = viewer_context(
        request, access, visits, title=case.code,
        subtitle=f"{label} · {_days(read_task)} · {read_task.get_state_display()}",
        page_title=f"{case.code} {label}", back_url=reverse("reads:worklist", args=[access.trial.code]),
        back_label="Worklist", can_measure=read_task.state in EDITABLE_TASK_STATES)
    context.update(_reading_context(request, access, read_task), case=case, label=label)
    return render(request, "reads/task.html", context)
