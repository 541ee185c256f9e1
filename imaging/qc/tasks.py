"""Celery tasks of QC: run the automated checks of a visit after its images arrive."""
from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def visit_qc_run_task(visit_id: int, submission_id: int | None = None) -> None:
    from imaging.qc.services import visit_qc_run

    visit_qc_run(visit_id=visit_id, submission_id=submission_id)
