"""A read package built by a real Celery worker that is killed mid-build: never marked ready half-built;
the task (acks_late) comes back to the restarted worker, which builds it again from nothing."""
from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from reads.models import ReadPackage
from reads.package.manifest import verify_package
from reads.packages import read_package_request
from tests.conftest import wait_for
from tests.reads.factories import double_read
from tests.reads.package_world import imaged_subject
from tests.reads.test_adjudication import _read

pytestmark = [pytest.mark.worker]


def test_a_worker_killed_mid_build_leaves_no_ready_package_and_the_redelivered_task_completes_it(
        celery_worker_process, world, tmp_path):
    double_read(world)
    for code in ("101-010", "101-011"):
        case = imaged_subject(world, code, slices=150)
        _read(world, case, world.reader, 20)
        _read(world, case, world.reader2, 22)
    package = read_package_request(actor=world.sponsor, trial=world.trial)
    wait_for(lambda: ReadPackage.objects.get(pk=package.pk).files_written >= 10, timeout=90, interval=0.02)
    celery_worker_process.kill()
    package.refresh_from_db()
    assert package.state == "building", "the worker finished before it could be killed; make the package larger"
    assert 0 < package.files_written < package.files_total and not package.sha256
    assert not default_storage.exists(f"packages/TRIAL-A/read-package-{package.pk}.zip")

    celery_worker_process.start()
    wait_for(lambda: ReadPackage.objects.get(pk=package.pk).state == "ready", timeout=120)
    package.refresh_from_db()
    assert package.files_written == package.files_total > 600  # 2 subjects x 2 visits x 150 slices + documents
    path = tmp_path / "package.zip"
    with default_storage.open(package.storage_key, "rb") as handle:
        path.write_bytes(handle.read())
    assert verify_package(path) is None
