"""Adjudication of double reads and the final result of each case (reads.md "Adjudication").

`adjudication_evaluate` is the one service that compares two reads: it runs after every signature
and re-open of a double-read case, asks the engine which of the read design's triggers the two
reads set off over the timepoints both have settled, and opens (or extends) a round assigned to
the least-loaded adjudicator of the pool who did not read the case. `adjudication_decide` is the
adjudicator's signed choice of Reader 1 or Reader 2. `case_results` gives each case's result per
timepoint: the governing decision's read, the read the charter reports when the readers agree, or
the single read; `pending` while a round is open.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_record
from audit.transitions import transition
from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from ictms.lib.history import stamp
from ictms.lib.users import AnyUser
from reads import assignment as balance
from reads import live, selectors
from reads.choices import (
    ADJUDICATION_MACHINE,
    ADJUDICATION_MEANING,
    SETTLED_TASK_STATES,
    AdjudicationReason,
    AdjudicationState,
    Paradigm,
    ReadTaskState,
    ResultSource,
)
from reads.models import Adjudication, ReadAssignment, ReadCase, ReadDesign, ReadTask
from reads.recist import adjudication_triggers_hit
from reads.signing import content_sha256, password_ok
from trials.choices import VisitState
from trials.models import Trial
from trials.services import visit_transition

TRIGGER_NAMES = {engine: name for name, engine in live.TRIGGERS.items()}
LIVE_STATES = (AdjudicationState.OPEN, AdjudicationState.DECIDED)


# --- who sees which adjudications -----------------------------------------------------------------

def adjudication_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[Adjudication]:
    """Adjudicators: the rounds assigned to them. Trial admins: every round of their trials."""
    qs = Adjudication.objects.filter(
        Q(case__trial__in=selectors.trials_with(user, "trials.manage_trial"))
        | Q(case__trial__in=selectors.trials_with(user, "trials.adjudicate"), adjudicator_id=user.pk)
    ).select_related("case__trial", "case__participant", "adjudicator")
    if trial is not None:
        qs = qs.filter(case__trial=trial)
    return qs.order_by("created_at", "id")


def adjudication_get_for_user(*, user: AnyUser, pk: int) -> Adjudication:
    found = adjudication_list_for_user(user=user).filter(pk=pk).first()
    if found is None:
        raise NotFoundError("No such adjudication.")
    return found


# --- comparing the two reads ------------------------------------------------------------------------

def _settled_up_to(reads: list[live.Read]) -> int:
    """The last reading position every read has settled from the baseline on (-1: not even the baseline)."""
    last = None
    for read in reads:
        position = -1
        for task in read.tasks:
            if task.state not in SETTLED_TASK_STATES:
                break
            position = task.sequence
        last = position if last is None else min(last, position)
    return -1 if last is None else last


def compare(design: ReadDesign, reads: list[live.Read], up_to: int) -> list[str]:
    """The read design's triggers two reads set off over positions 1..up_to (API names)."""
    config = live.recist_config(design)
    first, second = (live.assess_read(r, up_to, config) for r in reads)
    if first is None or second is None:
        return []
    return [TRIGGER_NAMES[t] for t in adjudication_triggers_hit(first, second, config.adjudication_triggers)]


def _adjudicator(design: ReadDesign, case: ReadCase) -> User:
    readers = set(ReadAssignment.objects.filter(case=case).values_list("reader_id", flat=True))
    pool = {u.pk: u for u in design.adjudicators.all() if u.pk not in readers}
    if not pool:
        raise DomainError(f"No adjudicator of the pool may adjudicate {case.code}: every one read it.")
    loads = dict(Adjudication.objects.filter(case__trial=case.trial).values("adjudicator_id")
                 .annotate(n=Count("id")).values_list("adjudicator_id", "n"))
    chosen = balance.choose_readers({pk: loads.get(pk, 0) for pk in pool}, 1,
                                    rng=random.Random(f"{design.seed}:adjudication:{case.code}"))
    return pool[chosen[0]]


def _notify(adjudication: Adjudication) -> None:
    user = adjudication.adjudicator
    if not user.email:
        return
    link = settings.SITE_URL.rstrip("/") + reverse(
        "reads:adjudication", kwargs={"code": adjudication.case.trial.code, "adjudication_id": adjudication.pk})
    send_mail(
        subject=f"[ICTMS] Adjudication of {adjudication.case.code} in {adjudication.case.trial.code}",
        message=(f"Hello {user.get_full_name() or user.username},\n\nThe two reads of case {adjudication.case.code} "
                 f"differ ({', '.join(adjudication.triggers)}). Please adjudicate:\n{link}\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email],
    )


def adjudication_evaluate(*, actor: User | None, case: ReadCase) -> Adjudication | None:
    """Compare the two reads of `case` over the timepoints both have settled; open or extend a round
    when the triggers hit. Called inside the signing and re-opening transactions."""
    design = ReadDesign.objects.filter(trial_id=case.trial_id).prefetch_related("adjudicators").first()
    if design is None or design.paradigm != Paradigm.DOUBLE:
        return None
    assignments = list(ReadAssignment.objects.filter(case=case).order_by("slot"))
    if len(assignments) != 2:
        return None
    reads = [live.load_read(a) for a in assignments]
    up_to = _settled_up_to(reads)
    if up_to < 1:
        return None
    hits = compare(design, reads, up_to)
    rounds = list(Adjudication.objects.select_for_update().filter(case=case).order_by("round"))
    current = next((r for r in rounds if r.state == AdjudicationState.OPEN), None)
    decided = [r for r in rounds if r.state == AdjudicationState.DECIDED]
    if not hits:
        return None
    if current is not None:
        if (current.up_to, current.triggers) != (up_to, hits):
            before = {"up_to": current.up_to, "triggers": current.triggers}
            current.up_to, current.triggers = up_to, hits
            stamp(current, actor, "a later timepoint was signed")
            current.save(update_fields=["up_to", "triggers"])
            audit_record(actor=actor, action=AuditAction.ADJUDICATION_UPDATE, target=current, trial=case.trial,
                         changes={"up_to": [before["up_to"], up_to], "triggers": [before["triggers"], hits]})
        return current
    if decided and decided[-1].up_to >= up_to:
        return None  # already decided over these timepoints
    for earlier in decided:
        transition(ADJUDICATION_MACHINE, earlier, AdjudicationState.SUPERSEDED, actor=actor, trial=case.trial,
                   reason="A later timepoint set off a trigger again: a new round decides the case.")
    adjudication = Adjudication(case=case, round=len(rounds) + 1, triggers=hits, up_to=up_to,
                                adjudicator=_adjudicator(design, case))
    stamp(adjudication, actor, "triggers hit")
    adjudication.save()
    audit_record(actor=actor, action=AuditAction.ADJUDICATION_OPEN, target=adjudication, trial=case.trial,
                 data={"case": case.code, "round": adjudication.round, "triggers": hits, "up_to": up_to,
                       "adjudicator": adjudication.adjudicator.username})
    transaction.on_commit(lambda: _notify(adjudication))
    return adjudication


def adjudications_void(*, actor: User, case: ReadCase, from_sequence: int, reason: str) -> None:
    """A read of the case was re-opened at `from_sequence`: rounds that compared it are void."""
    for adjudication in Adjudication.objects.select_for_update().filter(case=case, state__in=LIVE_STATES,
                                                                        up_to__gte=from_sequence):
        transition(ADJUDICATION_MACHINE, adjudication, AdjudicationState.VOID, actor=actor, trial=case.trial,
                   reason=f"A read was re-opened: {reason}"[:100])


# --- the adjudicator's decision -------------------------------------------------------------------

def adjudication_decide(
    *, actor: User, adjudication: Adjudication, selected: int, reason_code: str, rationale: str, password: str,
    request: HttpRequest | None = None,
) -> Adjudication:
    """The adjudicator selects Reader 1 or Reader 2 for the whole case and signs (same e-signature as reads)."""
    found = adjudication_get_for_user(user=actor, pk=adjudication.pk)
    if found.adjudicator_id != actor.pk:
        raise PermissionDeniedError("Only the adjudicator assigned to this case decides it.")
    if found.state != AdjudicationState.OPEN:
        raise DomainError(f"This adjudication is {found.get_state_display().lower()}: it cannot be decided again.")
    if selected not in (1, 2):
        raise ValidationError({"selected": "Select Reader 1 or Reader 2."})
    if reason_code not in AdjudicationReason.values:
        raise ValidationError({"reason_code": f"Choose one of: {', '.join(AdjudicationReason.values)}."})
    if not (rationale or "").strip():
        raise ValidationError({"rationale": "Give the rationale of your decision."})
    if not password_ok(actor, password, request):
        audit_record(actor=actor, action=AuditAction.ADJUDICATION_DECIDE_FAILED, target=found, trial=found.case.trial,
                     reason="wrong password")
        raise PermissionDeniedError("Wrong password: the decision is not signed.")
    with transaction.atomic():
        locked = Adjudication.objects.select_for_update(of=("self",)).select_related("case__trial").get(pk=found.pk)
        if locked.state != AdjudicationState.OPEN:
            raise DomainError("This adjudication was decided meanwhile.")
        signatures = {a.slot: sorted(s.content_sha256 for t in a.tasks.all() for s in t.signatures.all()
                                     if not s.superseded and t.sequence <= locked.up_to)
                      for a in ReadAssignment.objects.filter(case=locked.case).prefetch_related("tasks__signatures")}
        now = timezone.now()
        content = {"case": locked.case.code, "round": locked.round, "triggers": locked.triggers,
                   "up_to": locked.up_to, "selected": selected, "reason_code": reason_code,
                   "rationale": rationale.strip(), "reads": signatures}
        transition(ADJUDICATION_MACHINE, locked, AdjudicationState.DECIDED, actor=actor, trial=locked.case.trial,
                   action=AuditAction.ADJUDICATION_DECIDE, reason=rationale.strip()[:100],
                   fields={"selected": selected, "reason_code": reason_code, "rationale": rationale.strip()},
                   bookkeeping={"printed_name": actor.get_full_name() or actor.get_username(),
                                "meaning": ADJUDICATION_MEANING, "decided_at": now, "content": content,
                                "content_sha256": content_sha256(content)})
        visits_read_check(actor, locked.case)
    return locked


# --- final results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseResult:
    case: ReadCase
    task: ReadTask | None  # the read task whose result this is (None while pending)
    timepoint: str
    timepoint_code: str
    timepoint_order: int
    source: str
    slot: int | None

    def value(self, key: str) -> Any:
        return (self.task.response or {}).get(key) if self.task is not None else None


def results_for(access: Any, *, final_only: bool = False) -> list[CaseResult] | None:
    """The results the caller (a trials.selectors.TrialAccess) may see, or None without the right.

    Trial admins and the sponsor (view_progress) see results; pending rows are the admin's only
    (reads.md), or nobody's with `final_only`.
    """
    admin = access.can("manage_trial")
    if not (admin or access.can("view_progress")):
        return None
    rows = case_results(trial=access.trial)
    if final_only or not admin:
        rows = [r for r in rows if r.source != ResultSource.PENDING]
    return rows


def metrics_for(access: Any) -> Any:
    """Reader metrics the caller may see (by name for admins, pseudonyms for QC and the sponsor), or None."""
    admin = access.can("manage_trial")
    if not (admin or access.can("view_progress") or access.can("perform_qc")):
        return None
    return reader_metrics(trial=access.trial, names=admin)


def case_results(*, trial: Trial, cases: list[ReadCase] | None = None) -> list[CaseResult]:
    """Each case's result per follow-up (constant queries: cases, design, tasks, adjudications)."""
    design = ReadDesign.objects.filter(trial=trial).first()
    if design is None:
        return []
    case_list = cases if cases is not None else list(
        ReadCase.objects.filter(trial=trial).select_related("participant").order_by("code"))
    ids = [c.pk for c in case_list]
    tasks = list(ReadTask.objects.filter(assignment__case_id__in=ids).select_related("visit__timepoint", "assignment")
                 .order_by("assignment__case_id", "sequence"))
    rounds = list(Adjudication.objects.filter(case_id__in=ids, state__in=LIVE_STATES).order_by("round"))
    by_case: dict[int, dict[int, dict[int, ReadTask]]] = {}
    for t in tasks:
        by_case.setdefault(t.assignment.case_id, {}).setdefault(t.sequence, {})[t.assignment.slot] = t
    out: list[CaseResult] = []
    for case in case_list:
        open_round = next((r for r in rounds if r.case_id == case.pk and r.state == AdjudicationState.OPEN), None)
        decided = [r for r in rounds if r.case_id == case.pk and r.state == AdjudicationState.DECIDED]
        governing = decided[-1] if decided else None
        for sequence, slots in sorted(by_case.get(case.pk, {}).items()):
            if sequence == 0:
                continue
            any_task = next(iter(slots.values()))
            label, code = any_task.visit.timepoint.label, any_task.visit.timepoint.code
            signed = {s: t for s, t in slots.items() if t.state == ReadTaskState.SIGNED}
            if design.paradigm == Paradigm.SINGLE:
                if 1 in signed:
                    out.append(CaseResult(case, signed[1], label, code, sequence, ResultSource.SINGLE, 1))
                continue
            if len(signed) < 2:
                continue
            if open_round is not None and sequence <= open_round.up_to:
                out.append(CaseResult(case, None, label, code, sequence, ResultSource.PENDING, None))
            elif governing is not None and sequence <= governing.up_to:
                slot = governing.selected or 1
                out.append(CaseResult(case, signed[slot], label, code, sequence, ResultSource.ADJUDICATION, slot))
            else:
                slot = design.reported_read
                out.append(CaseResult(case, signed[slot], label, code, sequence, ResultSource.AGREEMENT, slot))
    return out


def visits_read_check(actor: User | None, case: Any) -> None:
    """A visit becomes read when its timepoint has a final result: every task of it (each reader of
    the case) settled, one signed, and no adjudication of the case open over it."""
    open_up_to = (Adjudication.objects.filter(case=case, state="open").values_list("up_to", flat=True).first())
    tasks = list(ReadTask.objects.filter(assignment__case=case).select_related("visit"))
    by_visit: dict[int, list[ReadTask]] = {}
    for t in tasks:
        by_visit.setdefault(t.visit_id, []).append(t)
    for group in by_visit.values():
        states = {t.state for t in group}
        visit = group[0].visit
        pending = open_up_to is not None and group[0].sequence <= open_up_to
        if (states <= set(SETTLED_TASK_STATES) and ReadTaskState.SIGNED in states and not pending
                and visit.state == VisitState.ACCEPTED):
            visit_transition(actor=actor, visit=visit, state=VisitState.READ,
                             reason="Every read of this timepoint is final.")


# --- reader metrics --------------------------------------------------------------------------------

def reader_pseudonyms(*, trial: Trial) -> dict[int, str]:
    """Reader id -> "Reader A", "Reader B", ... in the order readers first got a case (stable)."""
    from reads.models import ReaderSeed

    ids = list(ReaderSeed.objects.filter(trial=trial).order_by("pk").values_list("reader_id", flat=True))
    return {pk: f"Reader {_letters(i)}" for i, pk in enumerate(ids)}


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def reader_metrics(*, trial: Trial, names: bool) -> Any:
    """reads.metrics over the trial's signed reads and adjudication rounds (constant queries).

    `names`: readers by username (the trial admin) or by pseudonym (QC analysts, the sponsor).
    """
    from reads.metrics import AdjudicationRecord, CaseRead, TimepointRead, compute_reader_metrics
    from reads.metrics import AdjudicationState as RoundState

    pseudonyms = reader_pseudonyms(trial=trial)
    assignments = list(ReadAssignment.objects.filter(case__trial=trial).select_related("reader", "case"))
    tasks = list(ReadTask.objects.filter(assignment__case__trial=trial, state=ReadTaskState.SIGNED)
                 .select_related("visit__timepoint").order_by("sequence"))

    def who(assignment: ReadAssignment) -> str:
        if names:
            return assignment.reader.get_username()
        return pseudonyms.get(assignment.reader_id, f"Reader {assignment.reader_id}")

    by_assignment: dict[int, list[ReadTask]] = {}
    for task in tasks:
        by_assignment.setdefault(task.assignment_id, []).append(task)
    reads = []
    slots: dict[int, dict[int, str]] = {}
    for a in assignments:
        slots.setdefault(a.case_id, {})[a.slot] = who(a)
        signed = [t for t in by_assignment.get(a.pk, []) if t.sequence > 0 and (t.response or {}).get("overall")]
        if not signed:
            continue
        reads.append(CaseRead(
            reader=who(a), case=a.case.code,
            timepoints=tuple(TimepointRead(t.visit.timepoint.code, (t.response or {})["overall"],
                                           t.signed_at or timezone.now(),
                                           active_seconds=t.active_seconds or None, started_at=t.started_at)
                             for t in signed),
            best_response=(signed[-1].response or {}).get("best_response")))
    rounds = []
    for r in Adjudication.objects.filter(case__trial=trial).select_related("case"):
        pair = slots.get(r.case_id, {})
        if 1 in pair and 2 in pair:
            rounds.append(AdjudicationRecord(case=r.case.code, reader_1=pair[1], reader_2=pair[2], state=RoundState(r.state),
                                             round=r.round, selected_slot=r.selected, reason_code=r.reason_code or None,
                                             decided_at=r.decided_at))
    read_cases = {(cr.reader, cr.case) for cr in reads}
    # A decision counts for the readers whose reads of the case are signed outcomes.
    rounds = [r for r in rounds if r.state != RoundState.DECIDED or (r.selected_reader, r.case) in read_cases]
    return compute_reader_metrics(reads, rounds)
