"""Reading a timepoint through the services: lesions, observations, live RECIST, signing, locks, re-open."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from reads import reading
from reads.models import ReadTask, Signature
from tests.reads.factories import imaged_case, measure
from tests.trials import factories as f

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


@pytest.fixture
def case(world):
    for user in (world.reader,):
        user.set_password(PASSWORD)
        user.save()
    return imaged_case(world)


def _task(world, case, code, user=None):
    return ReadTask.objects.get(assignment__case=case, assignment__reader=user or world.reader,
                                visit__timepoint__code=code)


def _sign(world, task):
    return reading.read_task_sign(actor=world.reader, task=task, password=PASSWORD)


def _baseline(world, case, diameters=(30, 20)):
    bl = _task(world, case, "BL")
    lesions = []
    for i, d in enumerate(diameters):
        organ = ("lung", "liver", "kidney", "bone", "spleen", "brain")[i]
        lesions.append(reading.lesion_add(actor=world.reader, task=bl, kind="target", organ=organ,
                                          measurement=measure(world.reader, bl.visit, d)))
    nt = reading.lesion_add(actor=world.reader, task=bl, kind="non_target", organ="pleura", location="effusion")
    return bl, lesions, nt


def test_a_baseline_and_a_follow_up_read_end_to_end(world, case):
    bl, (t1, t2), nt = _baseline(world, case)
    assert [t1.label, t2.label, nt.label] == ["T1", "T2", "NT1"]
    result = reading.task_result(task=bl)
    assert result["response"]["sum_mm"] == 50 and result["missing"] == []
    signature = _sign(world, bl)
    assert signature.printed_name and len(signature.content_sha256) == 64
    assert reading.content_sha256(signature.content) == signature.content_sha256
    w8 = _task(world, case, "W8")
    assert w8.state == "ready"
    assert _task(world, case, "W16").state == "waiting"
    reading.observation_record(actor=world.reader, task=w8, lesion=t1, measurement=measure(world.reader, w8.visit, 15))
    reading.observation_record(actor=world.reader, task=w8, lesion=t2, too_small=True)
    reading.observation_record(actor=world.reader, task=w8, lesion=nt, status="present")
    live = reading.task_result(task=w8)
    assert live["response"]["pending"] and "New lesions" in live["missing"][-1]["message"]
    reading.new_lesions_none_set(actor=world.reader, task=w8)
    live = reading.task_result(task=w8)["response"]
    assert live["sum_mm"] == 20 and live["change_from_baseline_pct"] == -60.0
    assert live["target"] == "PR" and live["non_target"] == "NON_CR_NON_PD" and live["overall"] == "PR"
    assert "PR" in live["explanation"]
    _sign(world, w8)
    w8.refresh_from_db()
    assert w8.state == "signed" and w8.response["overall"] == "PR"
    assert _task(world, case, "W16").state == "ready"
    assert AuditEvent.objects.filter(action="read_task.sign").count() == 2


def test_baseline_rules_refuse_with_the_engines_reason(world, case):
    bl = _task(world, case, "BL")
    small = measure(world.reader, bl.visit, 9)
    with pytest.raises(ValidationError, match="cannot be a target"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung", measurement=small)
    node = measure(world.reader, bl.visit, 25, short_axis_mm=12)
    with pytest.raises(ValidationError, match=r"15 mm|pathological"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lymph node", measurement=node)
    for organ in ("lung", "lung"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ=organ,
                           measurement=measure(world.reader, bl.visit, 20))
    with pytest.raises(ValidationError, match=r"(?i)lung already has 2 targets"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung")
    for organ in ("liver", "bone", "spleen"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ=organ)
    with pytest.raises(ValidationError, match=r"(?i)already 5 targets"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="brain")
    with pytest.raises(ValidationError, match="organ"):
        reading.lesion_add(actor=world.reader, task=bl, kind="non_target", organ="elbow")
    with pytest.raises(ValidationError, match="follow-ups"):
        reading.lesion_add(actor=world.reader, task=bl, kind="new", organ="liver", status="unequivocal")


def test_thick_slices_raise_the_minimum_measurable_size(world):
    world.reader.set_password(PASSWORD)
    world.reader.save()
    case = imaged_case(world, slice_thickness=8.0)
    bl = _task(world, case, "BL")
    with pytest.raises(ValidationError, match="16"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung",
                           measurement=measure(world.reader, bl.visit, 12))


def test_foreign_measurements_and_other_readers_are_refused(world, case):
    bl = _task(world, case, "BL")
    other_bl = _task(world, case, "BL", user=world.reader2)
    theirs = measure(world.reader2, other_bl.visit, 30)
    with pytest.raises(ValidationError, match="you took"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung", measurement=theirs)
    qc_caliper = measure(world.qc, bl.visit, 30)
    with pytest.raises(ValidationError, match="you took"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung", measurement=qc_caliper)
    # A caliper taken on the baseline cannot be week 8's observation.
    spare = measure(world.reader, bl.visit, 33)
    t1 = reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung",
                            measurement=measure(world.reader, bl.visit, 30))
    _sign(world, bl)
    w8 = _task(world, case, "W8")
    with pytest.raises(ValidationError, match="another timepoint"):
        reading.observation_record(actor=world.reader, task=w8, lesion=t1, measurement=spare)
    with pytest.raises(NotFoundError):
        reading.lesion_add(actor=world.reader, task=other_bl, kind="target", organ="lung")
    with pytest.raises(NotFoundError):
        reading.lesion_add(actor=world.admin, task=bl, kind="non_target", organ="lung")


def test_measurements_of_a_read_are_locked_once_signed(world, case):
    from imaging.viewer.measurements import measurement_delete, measurement_update

    bl = _task(world, case, "BL")
    used = measure(world.reader, bl.visit, 30)
    reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung", measurement=used)
    with pytest.raises(DomainError, match="observation"):
        measurement_delete(actor=world.reader, measurement=used)
    moved = measurement_update(actor=world.reader, measurement=used, points=[[2, 60], [2 + 40 / 0.7, 60]])
    assert reading.task_result(task=bl)["response"]["sum_mm"] == float(moved.length_mm) == 40
    _sign(world, bl)
    with pytest.raises(DomainError, match="locked"):
        measurement_update(actor=world.reader, measurement=used, points=[[2, 60], [30, 60]])
    with pytest.raises(DomainError, match="locked"):
        measurement_delete(actor=world.reader, measurement=used)
    assert reading.task_result(task=bl)["response"]["sum_mm"] == 40


def test_out_of_order_and_signed_tasks_refuse_changes(world, case):
    w8 = _task(world, case, "W8")
    with pytest.raises(DomainError, match="not open yet"):
        reading.lesion_add(actor=world.reader, task=w8, kind="new", organ="liver", status="unequivocal")
    bl, (t1, _t2), _nt = _baseline(world, case)
    _sign(world, bl)
    with pytest.raises(DomainError, match="signed"):
        reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="kidney")
    with pytest.raises(DomainError, match="signed"):
        reading.observation_record(actor=world.reader, task=bl, lesion=t1, too_small=True)
    with pytest.raises(DomainError, match="already signed"):
        _sign(world, bl)
    assert Signature.objects.filter(task=bl).count() == 1


def test_a_wrong_password_is_refused_audited_and_counts_toward_lockout(world, case):
    bl, _lesions, _nt = _baseline(world, case)
    with pytest.raises(PermissionDeniedError):
        reading.read_task_sign(actor=world.reader, task=bl, password="wrong")
    bl.refresh_from_db()
    assert bl.state == "in_progress"
    assert AuditEvent.objects.filter(action="read_task.sign_failed", actor=world.reader).exists()
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username=world.reader.username).exists()


def test_an_incomplete_read_cannot_be_signed(world, case):
    bl = _task(world, case, "BL")
    reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung")  # not measured
    with pytest.raises(reading.IncompleteRead) as exc:
        _sign(world, bl)
    assert "T1" in exc.value.missing[0]["message"]


def test_reopen_cascades_to_later_signed_timepoints_and_supersedes_signatures(world, case):
    bl, (t1, t2), nt = _baseline(world, case)
    _sign(world, bl)
    w8 = _task(world, case, "W8")
    reading.observation_record(actor=world.reader, task=w8, lesion=t1, disappeared=True)
    reading.observation_record(actor=world.reader, task=w8, lesion=t2, disappeared=True)
    reading.observation_record(actor=world.reader, task=w8, lesion=nt, status="absent")
    reading.new_lesions_none_set(actor=world.reader, task=w8)
    _sign(world, w8)
    with pytest.raises(NotFoundError):  # QC sees no reads at all
        reading.read_task_reopen(actor=world.qc, task=bl, reason="typo")
    with pytest.raises(ValidationError):
        reading.read_task_reopen(actor=world.admin, task=bl, reason=" ")
    reading.read_task_reopen(actor=world.admin, task=bl, reason="Wrong lesion measured at T2")
    states = {t.visit.timepoint.code: t.state for t in ReadTask.objects.filter(assignment=bl.assignment)}
    assert states == {"BL": "in_progress", "W8": "waiting", "W16": "waiting"}
    assert Signature.objects.filter(task__in=[bl, w8], superseded=True).count() == 2
    # Entries are kept; re-signing the baseline opens week 8 again, with its observations.
    _sign(world, bl)
    w8.refresh_from_db()
    assert w8.state == "ready" and w8.observations.count() == 3


def test_reopen_with_second_approval(world, case):
    world.trial  # noqa: B018
    from reads.models import ReadDesign

    ReadDesign.objects.filter(trial=world.trial).update(reopen_needs_approval=True)
    bl, _l, _nt = _baseline(world, case)
    _sign(world, bl)
    second = f.member(world.trial, "trial_admin", username="admin_two")
    request = reading.read_task_reopen(actor=world.admin, task=bl, reason="Re-measure")
    bl.refresh_from_db()
    assert bl.state == "signed" and request.state == "pending"
    with pytest.raises(PermissionDeniedError):
        reading.read_task_reopen_approve(actor=world.admin, task=bl)
    reading.read_task_reopen_approve(actor=second, task=bl)
    bl.refresh_from_db()
    assert bl.state == "in_progress"


def test_progression_stops_the_case_and_a_missed_visit_opens_the_next(world, case):
    bl, (t1, t2), nt = _baseline(world, case)
    _sign(world, bl)
    reading.read_case_not_done(actor=world.admin, case=case, timepoint="W8", reason="Visit missed")
    w16 = _task(world, case, "W16")
    assert _task(world, case, "W8").state == "not_done" and w16.state == "ready"
    reading.lesion_add(actor=world.reader, task=w16, kind="new", organ="liver", status="unequivocal")
    reading.observation_record(actor=world.reader, task=w16, lesion=t1, measurement=measure(world.reader, w16.visit, 30))
    reading.observation_record(actor=world.reader, task=w16, lesion=t2, measurement=measure(world.reader, w16.visit, 20))
    reading.observation_record(actor=world.reader, task=w16, lesion=nt, status="present")
    assert reading.task_result(task=w16)["response"]["overall"] == "PD"
    _sign(world, w16)


def test_a_visit_is_read_once_every_reader_signed_it(world, case):
    from trials.choices import VisitState

    world.reader2.set_password(PASSWORD)
    world.reader2.save()
    for reader in (world.reader, world.reader2):
        bl = _task(world, case, "BL", user=reader)
        reading.lesion_add(actor=reader, task=bl, kind="target", organ="lung", measurement=measure(reader, bl.visit, 30))
        reading.read_task_sign(actor=reader, task=bl, password=PASSWORD)
    visit = f.visit(world.participant, "BL")
    assert visit.state == VisitState.READ and not visit.takes_images
    reading.read_task_reopen(actor=world.admin, task=_task(world, case, "BL"), reason="Re-read")
    visit.refresh_from_db()
    assert visit.state == VisitState.ACCEPTED


def test_a_reassigned_case_leaves_the_previous_readers_entries_behind(world, case):
    from reads.models import Lesion, Observation
    from reads.services import read_case_reassign

    f.member(world.trial, "reader", username="reader_c")
    from reads.services import read_design_save

    read_design_save(actor=world.admin, trial=world.trial, paradigm="double", readers=["reader_a", "reader_b", "reader_c"],
                     adjudicators=["adjudicator_a"])
    bl, _lesions, _nt = _baseline(world, case)
    assignment = read_case_reassign(actor=world.admin, case=case, from_username="reader_a", to_username="reader_c",
                                    reason="Reader on leave")
    assert not Lesion.objects.filter(assignment=assignment).exists()
    assert not Observation.objects.filter(task__assignment=assignment).exists()
    bl.refresh_from_db()
    assert bl.state == "ready"
