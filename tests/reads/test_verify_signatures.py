"""`manage.py verify_signatures`: a signature stays linked to the content it signs (Part 11 §11.70)."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from imaging.models import Measurement
from reads import reading
from reads.models import Observation, ReadTask, Signature
from reads.verification import signatures_verify
from tests.reads.factories import imaged_case, measure

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


@pytest.fixture
def signed(world):
    """reader_a's baseline (T1 lung 30 mm, NT1 bone) and Week 8 (T1 20 mm, NT1 present, no new lesions), signed."""
    world.reader.set_password(PASSWORD)
    world.reader.save()
    case = imaged_case(world)
    tasks = {t.visit.timepoint.code: t for t in ReadTask.objects.filter(assignment__case=case,
                                                                        assignment__reader=world.reader)}
    bl, w8 = tasks["BL"], tasks["W8"]
    t1 = reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung",
                            measurement=measure(world.reader, bl.visit, 30))
    nt1 = reading.lesion_add(actor=world.reader, task=bl, kind="non_target", organ="bone")
    reading.read_task_sign(actor=world.reader, task=bl, password=PASSWORD)
    reading.observation_record(actor=world.reader, task=w8, lesion=t1, measurement=measure(world.reader, w8.visit, 20))
    reading.observation_record(actor=world.reader, task=w8, lesion=nt1, status="present")
    reading.new_lesions_none_set(actor=world.reader, task=w8)
    reading.read_task_sign(actor=world.reader, task=w8, password=PASSWORD)
    return {"bl": bl, "w8": w8, "t1": t1, "nt1": nt1}


def run() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_signatures", stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_a_clean_read_passes(signed):
    status, out, err = run()
    assert status == 0, err
    assert "Signatures intact: 2 verified" in out


def test_a_diameter_edited_in_the_database_is_reported(signed):
    Observation.objects.filter(lesion=signed["t1"], task=signed["w8"]).update(diameter_mm=25)
    status, _, err = run()
    assert status == 1
    assert f"task {signed['w8'].pk}" in err and 'T1.observation.diameter_mm: signed "20.00", now "25.00"' in err
    assert f"task {signed['bl'].pk}" not in err  # the baseline's content did not change
    assert "1 signature problem(s) found (2 signatures checked)" in err


def test_a_status_edited_in_the_database_is_reported(signed):
    Observation.objects.filter(lesion=signed["nt1"], task=signed["w8"]).update(status="absent")
    status, _, err = run()
    assert status == 1 and 'NT1.observation.status: signed "present", now "absent"' in err


def test_a_measurement_moved_in_the_database_is_reported(signed):
    obs = Observation.objects.get(lesion=signed["t1"], task=signed["bl"])
    Measurement.objects.filter(pk=obs.measurement_id).update(points=[[2.0, 60.0], [50.0, 60.0]])
    report = signatures_verify()
    assert [p.task for p in report.problems] == [signed["bl"].pk]
    assert "T1.observation.measurement.points" in str(report.problems[0])


def test_a_stored_content_or_hash_rewritten_is_reported(signed):
    sig = Signature.objects.get(task=signed["w8"])
    Signature.objects.filter(pk=sig.pk).update(content_sha256="0" * 64)
    problems = str(signatures_verify().problems)
    assert "does not match the signature's SHA-256" in problems and "audit trail recorded" in problems

    # Content and hash rewritten together (the observation too, so the live data agrees): the audit trail knows.
    content = dict(sig.content)
    content["new_lesions_none"] = False
    Signature.objects.filter(pk=sig.pk).update(content=content, content_sha256=reading.content_sha256(content))
    ReadTask.objects.filter(pk=signed["w8"].pk).update(new_lesions_none=False)
    report = signatures_verify()
    assert len(report.problems) == 1
    assert report.problems[0].problems == ("the signature's SHA-256 is not the one the audit trail recorded at signing",)


def test_a_response_edited_or_a_lock_lifted_in_the_database_is_reported(signed):
    response = dict(signed["w8"].__class__.objects.get(pk=signed["w8"].pk).response, overall="CR")
    ReadTask.objects.filter(pk=signed["w8"].pk).update(response=response, state="in_progress")
    problems = str(signatures_verify().problems)
    assert 'response.overall: signed "PR", now "CR"' in problems and "the task is in_progress, not signed" in problems


def test_superseded_signatures_are_history_and_a_reopened_read_passes(world, signed):
    reading.read_task_reopen(actor=world.admin, task=signed["w8"], reason="Re-measure T1")
    report = signatures_verify()
    assert report.ok and report.checked == 1
