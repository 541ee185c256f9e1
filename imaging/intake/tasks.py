"""Celery tasks of intake: thin wrappers that take file ids and call the processing service."""
from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from imaging.intake.services import submission_files_process


@shared_task(acks_late=True, autoretry_for=(OperationalError, OSError), retry_backoff=True, max_retries=5)
def submission_file_process_task(file_ids: list[int]) -> None:
    submission_files_process(file_ids=file_ids)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def intake_recover_task() -> str:
    """The periodic crash-recovery sweep (Celery beat; also queued by each worker when it starts)."""
    from imaging.intake.recovery import intake_recover

    return str(intake_recover())
