"""Celery tasks of the imaging app: thin wrappers that load ids and call services."""
from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from imaging.services.submissions import submission_files_process


@shared_task(acks_late=True, autoretry_for=(OperationalError, OSError), retry_backoff=True, max_retries=5)
def submission_file_process_task(file_ids: list[int]) -> None:
    submission_files_process(file_ids=file_ids)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def query_notify_task(query_id: int, action: str) -> None:
    from imaging.notifications import query_notify

    query_notify(query_id=query_id, action=action)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def visit_qc_run_task(visit_id: int, submission_id: int | None = None) -> None:
    from imaging.services.qc import visit_qc_run

    visit_qc_run(visit_id=visit_id, submission_id=submission_id)
