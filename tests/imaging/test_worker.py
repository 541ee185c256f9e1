"""The upload pipeline on a real Celery worker (Redis + PostgreSQL), including a SIGKILL mid-way."""
from __future__ import annotations

import pytest

from audit.models import AuditEvent
from imaging.models import Instance, Submission, SubmissionFile
from tests.conftest import wait_for
from tests.imaging.upload_helpers import as_uploads, ct_files
from tests.trials import factories as f

pytestmark = [pytest.mark.worker]


def _submit(api, world, files, visit_code="BL"):
    client = api(world.coordinator)
    visit = f.visit(world.participant, visit_code)
    sub = client.post("/api/submissions/", {"visit": visit.pk}, format="json").json()
    for start in range(0, len(files), 50):
        r = client.post(f"/api/submissions/{sub['id']}/files/", {"files": as_uploads(files[start:start + 50])},
                        format="multipart")
        assert r.status_code == 201, r.content
    assert client.post(f"/api/submissions/{sub['id']}/complete/").status_code == 200
    return sub["id"]


def test_a_real_worker_processes_a_submission(celery_worker_process, world, api):
    sub_id = _submit(api, world, ct_files(6))
    wait_for(lambda: Submission.objects.get(pk=sub_id).state == "done", timeout=90)
    assert Instance.objects.count() == 6
    assert not SubmissionFile.objects.filter(status__in=["uploading", "received"]).exists()


def test_a_worker_killed_mid_submission_loses_nothing_and_duplicates_nothing(celery_worker_process, world, api):
    n = 150
    sub_id = _submit(api, world, ct_files(n, rows=128, cols=128))
    wait_for(lambda: Instance.objects.count() >= 10, timeout=90)
    celery_worker_process.kill()
    done_at_kill = Instance.objects.count()
    assert done_at_kill < n, "the worker finished before it could be killed; make the submission larger"
    celery_worker_process.start()
    wait_for(lambda: Submission.objects.get(pk=sub_id).state == "done", timeout=180)
    assert Instance.objects.count() == n
    assert Instance.objects.values("sop_uid").distinct().count() == n
    files = SubmissionFile.objects.filter(submission_id=sub_id)
    assert files.filter(status="deidentified").count() == n
    # Each file was recorded exactly once, even those whose task ran twice.
    per_file = AuditEvent.objects.filter(action="submission_file.deidentify").values_list("target_id", flat=True)
    assert len(per_file) == len(set(per_file)) == n


def test_a_worker_that_starts_recovers_files_whose_tasks_were_lost(celery_worker_process, world, api, monkeypatch):
    """The web process died after committing the files and before handing their tasks to the broker
    (simulated: the hand-over is dropped). A worker that starts runs the recovery sweep first."""
    from imaging.intake import tasks

    celery_worker_process.stop()
    monkeypatch.setattr(tasks.submission_file_process_task, "delay", lambda *args, **kwargs: None)
    sub_id = _submit(api, world, ct_files(4, seed=41))
    monkeypatch.undo()
    assert SubmissionFile.objects.filter(submission_id=sub_id, status="received").count() == 4
    celery_worker_process.start(INTAKE_STUCK_MINUTES="0")
    wait_for(lambda: Submission.objects.get(pk=sub_id).state == "done", timeout=120)
    assert Instance.objects.count() == 4
    assert AuditEvent.objects.filter(action="submission.recover", target_id=str(sub_id)).exists()
