"""The demo's reads (reads.md "The demo"): signed double reads that disagree, and cases left to read."""
from __future__ import annotations

from collections import defaultdict

from django.core.management import call_command

from audit.models import AuditEvent
from imaging.models import Measurement
from reads.models import Lesion, Observation, ReadCase, ReadTask, Signature
from reads.verification import signatures_verify
from trials.choices import VisitState

QUIET = {"stdout": open("/dev/null", "w")}  # noqa: SIM115


def snapshot() -> tuple:
    tasks = tuple(ReadTask.objects.order_by("pk").values_list("pk", "state", "response"))
    from reads.models import Adjudication

    return (tasks, Signature.objects.count(), Lesion.objects.count(), Observation.objects.count(),
            Measurement.objects.count(), AuditEvent.objects.count(),
            tuple(Adjudication.objects.order_by("pk").values_list("pk", "state")))


def test_seed_demo_signs_disagreeing_double_reads_and_leaves_cases_to_read(db, settings):
    settings.DEV_MODE = True
    call_command("seed_demo", **QUIET)

    # Signed by both readers, with responses that differ somewhere.
    signed: dict[tuple[int, int], dict[str, ReadTask]] = defaultdict(dict)
    for task in ReadTask.objects.filter(state="signed").select_related("assignment__reader", "visit"):
        signed[(task.assignment.case_id, task.visit_id)][task.assignment.reader.username] = task
    both = {key: tasks for key, tasks in signed.items() if set(tasks) == {"reader1", "reader2"}}
    assert len({case for case, _ in both}) >= 2
    assert any(t["reader1"].response["overall"] != t["reader2"].response["overall"] for t in both.values())
    for task in ReadTask.objects.filter(state="signed"):
        signature = task.signatures.get(superseded=False)
        assert signature.signer == task.assignment.reader and signature.printed_name.startswith("R")
        # Every target was measured on the images (a caliper drawn on the phantom, never typed).
        for obs in task.observations.filter(lesion__kind="target"):
            assert obs.measurement is not None and obs.diameter_mm == obs.measurement.length_mm
    first = ReadTask.objects.filter(assignment__case__participant__subject_code="101-001", state="signed",
                                    sequence=0).first()
    assert first is not None and first.response["sum_mm"] == 56  # 32 + 24 mm: the phantom's lesions

    # At least two double-read cases whose baseline and next timepoint are accepted and unread by both readers.
    fresh = []
    for case in ReadCase.objects.all():
        tasks = list(ReadTask.objects.filter(assignment__case=case).select_related("visit"))
        readers = {t.assignment.reader_id for t in tasks}
        accepted = sorted({t.sequence for t in tasks if t.visit.state == VisitState.ACCEPTED})
        if len(readers) == 2 and accepted[:2] == [0, 1] and all(t.state != "signed" and not t.observations.exists()
                                                                for t in tasks):
            assert {t.state for t in tasks if t.sequence == 0} == {"ready"}
            fresh.append(case.code)
    assert len(fresh) >= 2, fresh

    assert signatures_verify().ok
    from reads.models import Adjudication

    # The disagreements opened adjudications: one decided by the demo adjudicator, one left open.
    assert sorted(Adjudication.objects.values_list("state", flat=True)) == ["decided", "open"]

    before = snapshot()
    call_command("seed_demo", **QUIET)
    assert snapshot() == before
