"""Celery tasks of the reads app: building read packages (a thin wrapper over the service)."""
from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from reads.choices import READ_PACKAGE_MACHINE, ReadPackageState

MAX_RETRIES = 3


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError, OSError), retry_backoff=True,
             max_retries=MAX_RETRIES)
def read_package_build_task(self: Any, package_id: int) -> None:
    from audit.transitions import transition
    from reads.models import ReadPackage
    from reads.packages import read_package_build

    try:
        read_package_build(package_id=package_id)
    except Exception as exc:
        retriable = isinstance(exc, (OperationalError, OSError)) and self.request.retries < MAX_RETRIES
        if not retriable:
            package = ReadPackage.objects.select_related("trial").get(pk=package_id)
            if READ_PACKAGE_MACHINE.allows(package.state, ReadPackageState.FAILED):
                transition(READ_PACKAGE_MACHINE, package, ReadPackageState.FAILED, actor=None, trial=package.trial,
                           reason="The build failed", fields={"error": f"{type(exc).__name__}: {exc}"[:2000]})
        raise
