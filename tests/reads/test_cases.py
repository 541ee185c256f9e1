"""Read cases and tasks follow QC acceptance; assignment is balanced; reassignment has rules."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, PermissionDeniedError
from reads.choices import ReadTaskState
from reads.models import ReadAssignment, ReadCase, ReadTask
from reads.services import read_case_reassign, read_design_save
from tests.reads.factories import accept, double_read, unaccept
from tests.trials import factories as f

pytestmark = pytest.mark.django_db


def _states(case: ReadCase, slot: int) -> list[str]:
    return list(ReadTask.objects.filter(assignment__case=case, assignment__slot=slot).order_by("sequence")
                .values_list("state", flat=True))


def test_accepting_the_baseline_opens_a_case_with_tasks_for_both_readers(world):
    double_read(world)
    assert not ReadCase.objects.exists()
    today = dt.date.today()
    accept(f.visit(world.participant, "BL"), actor=world.qc, scan_date=today - dt.timedelta(days=60))
    case = ReadCase.objects.get(participant=world.participant)
    assert re.fullmatch(r"C-[0-9A-HJKMNP-TV-Z]{6}", case.code)
    assert world.participant.subject_code not in case.code
    readers = set(case.assignments.values_list("reader__username", flat=True))
    assert readers == {"reader_a", "reader_b"}
    assert _states(case, 1) == ["ready", "waiting", "waiting"]
    assert _states(case, 2) == ["ready", "waiting", "waiting"]
    assert AuditEvent.objects.filter(action="read_case.create", target_id=str(case.pk)).exists()

    # Week 8 is accepted: still waiting, since the baseline is not signed yet.
    accept(f.visit(world.participant, "W8"), actor=world.qc, scan_date=today)
    assert _states(case, 1) == ["ready", "waiting", "waiting"]
    w8 = ReadTask.objects.get(assignment__case=case, assignment__slot=1, visit__timepoint__code="W8")
    assert w8.sequence == 1 and w8.days_since_baseline == 60


def test_a_follow_up_accepted_before_its_baseline_joins_when_the_case_opens(world):
    double_read(world)
    accept(f.visit(world.participant, "W8"), actor=world.qc)
    assert not ReadCase.objects.exists()
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    case = ReadCase.objects.get()
    assert ReadTask.objects.filter(assignment__case=case).count() == 6


def test_setting_the_design_late_opens_cases_for_baselines_already_accepted(world):
    f.member(world.trial, "reader", username="reader_b")
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    accept(f.visit(world.other_participant, "BL"), actor=world.qc)
    double_read(world)
    assert ReadCase.objects.filter(trial=world.trial).count() == 2
    codes = set(ReadCase.objects.values_list("code", flat=True))
    assert len(codes) == 2


def test_losing_acceptance_sends_unsigned_tasks_back_to_waiting(world):
    double_read(world)
    visit = accept(f.visit(world.participant, "BL"), actor=world.qc)
    case = ReadCase.objects.get()
    unaccept(visit)
    assert _states(case, 1) == ["waiting", "waiting", "waiting"]
    accept(visit, actor=world.qc)
    assert _states(case, 1) == ["ready", "waiting", "waiting"]


def test_signed_tasks_stay_signed_when_the_visit_loses_acceptance(world):
    from audit.transitions import transition
    from reads.choices import READ_TASK_MACHINE

    double_read(world)
    visit = accept(f.visit(world.participant, "BL"), actor=world.qc)
    task = ReadTask.objects.get(assignment__slot=1, visit=visit)
    transition(READ_TASK_MACHINE, task, "in_progress", actor=world.reader, trial=world.trial)
    transition(READ_TASK_MACHINE, task, "signed", actor=world.reader, trial=world.trial)
    accept(f.visit(world.participant, "W8"), actor=world.qc)
    case = ReadCase.objects.get()
    assert _states(case, 1) == ["signed", "ready", "waiting"]
    unaccept(visit)
    assert _states(case, 1)[0] == "signed"


def test_a_read_design_needs_blinded_readers_and_pools_of_the_right_roles(world):
    f.member(world.trial, "reader", username="reader_b")
    world.trial.blind_readers = False
    world.trial.save()
    with pytest.raises(ValidationError, match="blind readers"):
        double_read(world)
    world.trial.blind_readers = True
    world.trial.save()
    with pytest.raises(ValidationError) as exc:
        double_read(world, readers=["reader_a", "qc_a"])
    assert "qc_a" in str(exc.value)
    with pytest.raises(ValidationError):
        double_read(world, readers=["reader_a"])
    with pytest.raises(ValidationError):
        double_read(world, adjudicators=[])
    with pytest.raises(ValidationError):
        double_read(world, triggers=["coin_toss"])
    with pytest.raises(PermissionDeniedError):
        read_design_save(actor=world.qc, trial=world.trial, paradigm="single", readers=["reader_a"], adjudicators=[])
    design = double_read(world)
    assert design.version == 1 and design.triggers == ["best_response", "progression"]


def test_changing_the_design_after_a_signature_needs_a_reason(world):
    from audit.transitions import transition
    from reads.choices import READ_TASK_MACHINE

    double_read(world)
    visit = accept(f.visit(world.participant, "BL"), actor=world.qc)
    task = ReadTask.objects.get(assignment__slot=1, visit=visit)
    transition(READ_TASK_MACHINE, task, "in_progress", actor=world.reader, trial=world.trial)
    transition(READ_TASK_MACHINE, task, "signed", actor=world.reader, trial=world.trial)
    with pytest.raises(ValidationError, match="reason"):
        double_read(world, triggers=["best_response"])
    with pytest.raises(ValidationError, match="paradigm"):
        double_read(world, paradigm="single", reason="switch")
    design = double_read(world, triggers=["best_response"], reason="Charter amendment 2")
    assert design.version == 2
    task.refresh_from_db()
    assert task.state == ReadTaskState.SIGNED


def test_reassignment_moves_the_slot_and_refuses_after_a_signature(world):
    from audit.transitions import transition
    from reads.choices import READ_TASK_MACHINE

    f.member(world.trial, "reader", username="reader_c")
    double_read(world, readers=["reader_a", "reader_b", "reader_c"])
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    case = ReadCase.objects.get()
    slots = dict(case.assignments.values_list("reader__username", "slot"))
    free = ({"reader_a", "reader_b", "reader_c"} - set(slots)).pop()
    busy = min(slots)
    with pytest.raises(ValidationError):
        read_case_reassign(actor=world.admin, case=case, from_username=busy, to_username=free, reason="")
    other = next(u for u in slots if u != busy)
    with pytest.raises(ValidationError, match="must differ"):
        read_case_reassign(actor=world.admin, case=case, from_username=busy, to_username=other, reason="r")
    with pytest.raises(PermissionDeniedError):
        read_case_reassign(actor=world.qc, case=case, from_username=busy, to_username=free, reason="r")
    assignment = read_case_reassign(actor=world.admin, case=case, from_username=busy, to_username=free,
                                    reason="Reader on leave")
    assert assignment.reader.username == free and assignment.slot == slots[busy]
    assert AuditEvent.objects.filter(action="read_case.reassign", reason="Reader on leave").exists()
    task = assignment.tasks.get(sequence=0)
    transition(READ_TASK_MACHINE, task, "in_progress", actor=assignment.reader, trial=world.trial)
    transition(READ_TASK_MACHINE, task, "signed", actor=assignment.reader, trial=world.trial)
    with pytest.raises(DomainError, match="signed"):
        read_case_reassign(actor=world.admin, case=case, from_username=free, to_username=busy, reason="back")


def test_loads_stay_balanced_over_many_cases(world):
    for name in ("reader_b", "reader_c"):
        f.member(world.trial, "reader", username=name)
    double_read(world, readers=["reader_a", "reader_b", "reader_c"])
    for i in range(2, 9):
        p = f.participant(world.coordinator, world.site, f"101-00{i}")
        accept(f.visit(p, "BL"), actor=world.qc)
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    loads = [ReadAssignment.objects.filter(reader__username=u).count() for u in ("reader_a", "reader_b", "reader_c")]
    assert sum(loads) == 16 and max(loads) - min(loads) <= 1
