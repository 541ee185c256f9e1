"""Celery tasks of the trials app (thin: load by id, call a service)."""
from __future__ import annotations

from celery import shared_task

from trials.notifications import invitation_send, membership_invitation_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def membership_invitation_send_task(membership_id: int) -> None:
    membership_invitation_send(membership_id=membership_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def invitation_send_task(invitation_id: int) -> None:
    invitation_send(invitation_id=invitation_id)


@shared_task
def invitations_expire_task() -> int:
    from trials.services import invitations_expire

    return invitations_expire()
