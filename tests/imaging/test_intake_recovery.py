"""Crash recovery of intake (#19): nothing lost, nothing duplicated, nothing identified left behind."""
from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from imaging.archive import storage
from imaging.intake import tasks
from imaging.intake.recovery import intake_recover, quarantine_janitor
from imaging.models import Instance, Submission, SubmissionFile
from tests.imaging.upload_helpers import ct_files, open_submission, post_files
from tests.trials import factories as f

pytestmark = pytest.mark.django_db
LATER = dt.timedelta(minutes=16)


def _quarantined(submission_id: int) -> list[str]:
    folder = storage.quarantine_dir() / f"s{submission_id}"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _age(paths, seconds: float = 3600) -> None:
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


def _lost_upload(world, api, monkeypatch, files):
    """Upload and complete while every hand-over to the broker is lost (the web process died after
    committing): the files wait, identified, in quarantine."""
    monkeypatch.setattr(tasks.submission_file_process_task, "delay", lambda *args, **kwargs: None)
    visit = f.visit(world.participant, "BL")
    client = api(world.coordinator)
    sub = open_submission(client, visit.pk)
    assert post_files(client, sub["id"], files).status_code == 201
    assert client.post(f"/api/submissions/{sub['id']}/complete/").status_code == 200
    monkeypatch.undo()
    return Submission.objects.get(pk=sub["id"])


@pytest.fixture
def recover(django_capture_on_commit_callbacks):
    """The sweep, with what it queues run as a worker would once its transaction commits."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return intake_recover(**kwargs)

    return run


def test_files_whose_task_was_lost_are_queued_again_and_stored_once(world, api, monkeypatch, recover):
    submission = _lost_upload(world, api, monkeypatch, ct_files(3, seed=31))
    assert submission.state == "processing" and len(_quarantined(submission.pk)) == 3
    assert set(SubmissionFile.objects.values_list("status", "attempts")) == {("received", 1)}
    # Not yet: a slow queue is not a lost task.
    assert recover().requeued == 0
    report = recover(now=timezone.now() + LATER)
    assert report.requeued == 3 and report.refused == 0
    submission.refresh_from_db()
    assert submission.state == "done" and Instance.objects.count() == 3
    assert set(SubmissionFile.objects.values_list("status", "attempts")) == {("deidentified", 2)}
    assert _quarantined(submission.pk) == []
    event = AuditEvent.objects.get(action="submission.recover", target_id=str(submission.pk))
    assert event.data == {"queued_again": 3, "refused": 0} and event.actor is None
    # Again: nothing to do, nothing duplicated.
    assert recover(now=timezone.now() + LATER).requeued == 0 and Instance.objects.count() == 3


def test_a_file_that_never_gets_through_is_refused_after_the_last_attempt(world, api, monkeypatch, settings, recover):
    submission = _lost_upload(world, api, monkeypatch, ct_files(2, seed=32))
    SubmissionFile.objects.filter(submission=submission).update(attempts=settings.INTAKE_MAX_ATTEMPTS)
    report = recover(now=timezone.now() + LATER)
    assert report.refused == 2 and report.requeued == 0
    reasons = set(SubmissionFile.objects.values_list("status", "reason"))
    assert reasons == {("rejected", "could not be processed after 3 attempts (processing stopped each time); please "
                                    "send this file again, and tell the core lab if it happens again")}
    submission.refresh_from_db()
    assert submission.state == "failed"
    assert _quarantined(submission.pk) == []


def test_a_submission_whose_files_finished_but_which_never_finished_finishes(world, api, monkeypatch, recover):
    from imaging.intake import services

    monkeypatch.setattr(services, "submission_finish_if_processed", lambda **kwargs: None)
    visit = f.visit(world.participant, "BL")
    client = api(world.coordinator)
    sub = open_submission(client, visit.pk)
    post_files(client, sub["id"], ct_files(2, seed=33))
    client.post(f"/api/submissions/{sub['id']}/complete/")
    monkeypatch.undo()
    submission = Submission.objects.get(pk=sub["id"])
    assert submission.state == "processing" and Instance.objects.count() == 2
    report = recover(now=timezone.now() + LATER)
    assert report.finished == 1
    submission.refresh_from_db()
    assert submission.state == "done"
    assert AuditEvent.objects.filter(action="qc.run", target_id=str(visit.pk)).count() == 1


def test_the_janitor_removes_only_identified_data_nobody_needs(world, api, monkeypatch):
    submission = _lost_upload(world, api, monkeypatch, ct_files(1, seed=34))
    folder = storage.quarantine_dir() / f"s{submission.pk}"
    waiting = folder / _quarantined(submission.pk)[0]
    finished = folder / "f999999"  # no such file any more
    leftover = folder / "incoming-0123abcd"  # a request that died while receiving
    fresh = folder / "incoming-4567cdef"  # a request receiving right now
    for path in (finished, leftover, fresh):
        path.write_bytes(b"identified")
    _age([waiting, finished, leftover])
    removed = quarantine_janitor(cutoff=timezone.now() - dt.timedelta(minutes=15))
    assert removed == 2
    assert waiting.exists() and fresh.exists() and not finished.exists() and not leftover.exists()


def test_the_command_reports_what_it_did(world, api, monkeypatch, capsys, settings, django_capture_on_commit_callbacks):
    _lost_upload(world, api, monkeypatch, ct_files(1, seed=35))
    settings.INTAKE_STUCK_MINUTES = 0
    with django_capture_on_commit_callbacks(execute=True):
        call_command("recover_intake")
    assert "1 file(s) queued again" in capsys.readouterr().out
    assert Instance.objects.count() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_database_connections_are_killed_mid_submission_loses_nothing(celery_worker_process, world, api):
    """PostgreSQL ends the worker's connections while it processes (a failover, an administrator, an idle
    timeout): every file is stored once, the submission finishes, no identified original stays in quarantine."""
    from django.db import connection

    from tests.conftest import wait_for

    n = 120
    client = api(world.coordinator)
    sub = open_submission(client, f.visit(world.participant, "BL").pk)
    files = ct_files(n, rows=128, cols=128, seed=36)
    for start in range(0, n, 50):
        assert post_files(client, sub["id"], files[start:start + 50]).status_code == 201
    assert client.post(f"/api/submissions/{sub['id']}/complete/").status_code == 200
    wait_for(lambda: Instance.objects.count() >= 10, timeout=90)
    with connection.cursor() as cursor:  # every other connection to the test database is the worker's
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        killed = sum(1 for (ended,) in cursor.fetchall() if ended)
    assert killed >= 1
    assert Instance.objects.count() < n, "the worker finished before its connections were killed; send more files"
    wait_for(lambda: Submission.objects.get(pk=sub["id"]).state == "done", timeout=180)
    assert Instance.objects.count() == Instance.objects.values("sop_uid").distinct().count() == n
    assert SubmissionFile.objects.filter(submission_id=sub["id"], status="deidentified").count() == n
    per_file = AuditEvent.objects.filter(action="submission_file.deidentify").values_list("target_id", flat=True)
    assert len(per_file) == len(set(per_file)) == n
    wait_for(lambda: _quarantined(sub["id"]) == [], timeout=30)


def test_the_web_process_killed_mid_upload_loses_nothing_and_leaves_nothing_identified(transactional_db, world, settings,
                                                                                      tmp_path, django_capture_on_commit_callbacks):
    """A real gunicorn, killed with SIGKILL while it de-identifies an upload (the embedded mode processes in the
    request): after the recovery sweep every file is stored once and quarantine holds nothing."""
    import signal
    import socket
    import subprocess
    import sys
    import threading

    import requests
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from tests.conftest import wait_for

    if connection.vendor != "postgresql":
        if os.environ.get("ICTMS_REQUIRE_WORKER") == "1":
            pytest.fail("needs DATABASE_URL on PostgreSQL so the web process sees the test database")
        pytest.skip("needs DATABASE_URL on PostgreSQL so the web process sees the test database")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")} | {
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "ICTMS_VAR_DIR": str(tmp_path / "web-var"), "ICTMS_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ICTMS_QUARANTINE_DIR": str(settings.QUARANTINE_DIR), "ICTMS_UPLOAD_TMP_DIR": str(settings.UPLOAD_TMP_DIR),
        "SECRET_KEY": settings.SECRET_KEY, "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "AUDIT_CHECKPOINT_FILE": str(settings.AUDIT_CHECKPOINT_FILE),
    }
    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "ictms.wsgi:application", "-b", f"127.0.0.1:{port}",
                            "--workers", "1", "--timeout", "300"], env=env, stdout=subprocess.DEVNULL,
                           stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return requests.get(f"{base}/accounts/login/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=60)
        headers = {"Authorization": f"Token {Token.objects.create(user=world.coordinator).key}"}
        visit = f.visit(world.participant, "BL")
        sub = requests.post(f"{base}/api/submissions/", json={"visit": visit.pk}, headers=headers, timeout=30).json()
        n = 150
        files = ct_files(n, rows=128, cols=128, seed=37)
        upload = threading.Thread(target=lambda: _post_quietly(f"{base}/api/submissions/{sub['id']}/files/", files,
                                                               headers), daemon=True)
        upload.start()
        wait_for(lambda: Instance.objects.count() >= 5, timeout=120)
        os.killpg(web.pid, signal.SIGKILL)
        web.wait(timeout=30)
        upload.join(timeout=30)
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait(timeout=30)
        log.close()
    stored = Instance.objects.count()
    assert stored < n, "the upload finished before the web process was killed; send more files"
    left = SubmissionFile.objects.filter(submission_id=sub["id"]).exclude(status="deidentified")
    assert left.exists() and _quarantined(sub["id"]), "the kill left nothing to recover"
    # The site completes once it is back (its client retried); the sweep re-runs what the dead process held.
    with django_capture_on_commit_callbacks(execute=True):
        intake_recover(now=timezone.now() + LATER)
    received = SubmissionFile.objects.filter(submission_id=sub["id"])
    assert set(received.values_list("status", flat=True)) == {"deidentified"}
    assert Instance.objects.count() == Instance.objects.values("sop_uid").distinct().count() == received.count()
    per_file = list(AuditEvent.objects.filter(action="submission_file.deidentify").values_list("target_id", flat=True))
    assert len(per_file) == len(set(per_file)) == received.count()
    quarantine_janitor(cutoff=timezone.now() + dt.timedelta(minutes=1))
    assert _quarantined(sub["id"]) == []


def _post_quietly(url: str, files: list[tuple[str, bytes]], headers: dict[str, str]) -> None:
    import contextlib

    import requests

    # The server is killed mid-request: the client sees the connection drop.
    with contextlib.suppress(requests.RequestException):
        requests.post(url, files=[("files", (name, data, "application/dicom")) for name, data in files],
                      headers=headers, timeout=300)
