"""Adjudication: triggers on signing, balanced assignment, the signed decision, final results, voiding."""
from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from reads import reading
from reads.adjudication import adjudication_decide, case_results
from reads.models import Adjudication, ReadDesign, ReadTask
from tests.reads.factories import imaged_case, measure
from tests.trials import factories as f

pytestmark = pytest.mark.django_db
PASSWORD = f.PASSWORD


def pd_slot(world, case) -> int:
    """The slot of reader_b, whose read the tests make progress (slots are assigned at random)."""
    from reads.models import ReadAssignment

    return ReadAssignment.objects.get(case=case, reader=world.reader2).slot


def _read(world, case, reader, w8_mm, new="none", bl_mm=40):
    """Baseline T1 (lung) + a follow-up at W8 with T1 = w8_mm, signed by `reader`."""
    tasks = {t.visit.timepoint.code: t for t in ReadTask.objects.filter(assignment__case=case, assignment__reader=reader)
             .select_related("visit__timepoint")}
    bl = tasks["BL"]
    t1 = reading.lesion_add(actor=reader, task=bl, kind="target", organ="lung",
                            measurement=measure(reader, bl.visit, bl_mm))
    reading.read_task_sign(actor=reader, task=bl, password=PASSWORD)
    w8 = tasks["W8"]
    reading.observation_record(actor=reader, task=w8, lesion=t1, measurement=measure(reader, w8.visit, w8_mm))
    if new == "none":
        reading.new_lesions_none_set(actor=reader, task=w8)
    else:
        reading.lesion_add(actor=reader, task=w8, kind="new", organ="liver", status=new)
    reading.read_task_sign(actor=reader, task=w8, password=PASSWORD)


@pytest.fixture
def case(world):
    case = imaged_case(world)
    world.adjudicator2 = f.member(world.trial, "adjudicator", username="adjudicator_b")
    from reads.services import read_design_save

    read_design_save(actor=world.admin, trial=world.trial, paradigm="double", readers=["reader_a", "reader_b"],
                     adjudicators=["adjudicator_a", "adjudicator_b"])
    return case


def test_agreeing_reads_need_no_adjudication_and_report_reader_1(world, case):
    _read(world, case, world.reader, 20)
    assert not Adjudication.objects.exists()
    _read(world, case, world.reader2, 22)
    assert not Adjudication.objects.exists()
    [row] = case_results(trial=world.trial)
    assert row.source == "agreement" and row.slot == 1 and row.value("overall") == "PR"
    assert row.value("sum_mm") == (20 if pd_slot(world, case) == 2 else 22)  # Reader 1's read is reported
    assert f.visit(world.participant, "W8").state == "read"


def test_a_disagreement_opens_a_round_for_an_adjudicator_who_did_not_read_it(world, case):
    _read(world, case, world.reader, 20)  # PR
    _read(world, case, world.reader2, 41, new="unequivocal")  # PD
    adjudication = Adjudication.objects.get()
    assert set(adjudication.triggers) == {"best_response", "progression"} and adjudication.up_to == 1
    assert adjudication.adjudicator.username in ("adjudicator_a", "adjudicator_b")
    assert mail.outbox == [] or adjudication.case.code in mail.outbox[-1].subject
    [row] = case_results(trial=world.trial)
    assert row.source == "pending"
    assert f.visit(world.participant, "W8").state == "accepted"  # not final while pending

    adjudicator = adjudication.adjudicator
    other = world.adjudicator if adjudicator != world.adjudicator else world.adjudicator2
    with pytest.raises(NotFoundError):
        adjudication_decide(actor=other, adjudication=adjudication, selected=1, reason_code="measurement",
                            rationale="x", password=PASSWORD)
    with pytest.raises(ValidationError):
        adjudication_decide(actor=adjudicator, adjudication=adjudication, selected=1, reason_code="coin",
                            rationale="x", password=PASSWORD)
    with pytest.raises(ValidationError):
        adjudication_decide(actor=adjudicator, adjudication=adjudication, selected=1, reason_code="measurement",
                            rationale=" ", password=PASSWORD)
    with pytest.raises(PermissionDeniedError):
        adjudication_decide(actor=adjudicator, adjudication=adjudication, selected=1, reason_code="measurement",
                            rationale="x", password="wrong")
    decided = adjudication_decide(actor=adjudicator, adjudication=adjudication, selected=pd_slot(world, case),
                                  reason_code="new_lesion_call", rationale="The liver lesion is new and unequivocal.",
                                  password=PASSWORD)
    assert decided.state == "decided" and len(decided.content_sha256) == 64
    with pytest.raises(DomainError):
        adjudication_decide(actor=adjudicator, adjudication=adjudication, selected=1, reason_code="measurement",
                            rationale="again", password=PASSWORD)
    [row] = case_results(trial=world.trial)
    assert row.source == "adjudication" and row.slot == pd_slot(world, case) and row.value("overall") == "PD"
    assert f.visit(world.participant, "W8").state == "read"


def test_reopening_a_read_voids_the_decision(world, case):
    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, 41, new="unequivocal")
    adjudication = Adjudication.objects.get()
    adjudication_decide(actor=adjudication.adjudicator, adjudication=adjudication, selected=1,
                        reason_code="measurement", rationale="Reader 1 measured the right lesion.", password=PASSWORD)
    w8 = ReadTask.objects.get(assignment__reader=world.reader2, visit__timepoint__code="W8")
    reading.read_task_reopen(actor=world.admin, task=w8, reason="Reader 2 asked to correct T1")
    adjudication.refresh_from_db()
    assert adjudication.state == "void"
    assert case_results(trial=world.trial) == []  # not final until re-signed
    assert f.visit(world.participant, "W8").state == "accepted"


@pytest.mark.parametrize("triggers,reader_2,hit", [
    (["best_response"], (20, "none"), False),
    (["best_response"], (41, "unequivocal"), True),
    (["progression"], (41, "unequivocal"), True),
    (["overall_response"], (33, "none"), True),  # PR vs SD at week 8
    (["best_response", "progression"], (33, "none"), True),  # PR vs SD is a best-response difference
    (["progression"], (33, "none"), False),  # neither progressed
    (["first_response"], (33, "none"), True),  # PR at week 8 vs never
])
def test_the_trigger_matrix(world, case, triggers, reader_2, hit):
    ReadDesign.objects.filter(trial=world.trial).update(triggers=triggers)
    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, reader_2[0], new=reader_2[1])
    assert Adjudication.objects.exists() is hit


def test_adjudications_are_balanced_across_the_pool(world, case):
    from reads.models import ReadCase
    from tests.reads.factories import accept

    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, 41, new="unequivocal")
    assert Adjudication.objects.count() == 1
    first = Adjudication.objects.get().adjudicator
    p = f.participant(world.coordinator, world.site, "101-002")
    from tests.imaging.factories import make_series

    for code in ("BL", "W8"):
        visit = f.visit(p, code)
        make_series(visit, n=1, rows=128, columns=128)
        accept(visit, actor=world.qc)
    second_case = ReadCase.objects.get(participant=p)
    _read(world, second_case, world.reader, 20)
    _read(world, second_case, world.reader2, 41, new="unequivocal")
    second = Adjudication.objects.get(case=second_case).adjudicator
    assert second != first
