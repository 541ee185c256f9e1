"""Celery tasks of the trials app (thin: load by id, call a service)."""
from __future__ import annotations

from celery import shared_task

from trials.notifications import membership_invitation_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def membership_invitation_send_task(membership_id: int) -> None:
    membership_invitation_send(membership_id=membership_id)
