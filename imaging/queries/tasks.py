"""Celery tasks of queries: e-mail the people a query action concerns."""
from __future__ import annotations

from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def query_notify_task(query_id: int, action: str) -> None:
    from imaging.queries.notifications import query_notify

    query_notify(query_id=query_id, action=action)
