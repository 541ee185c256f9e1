"""simple-history glue shared by every app's services."""
from __future__ import annotations

from typing import Any


def stamp(obj: Any, actor: Any, reason: str = "") -> None:
    """Say who changes `obj` and why, for the history row its next save() writes.

    Inside a request HistoryRequestMiddleware knows the user; Celery tasks and management
    commands have no request, so services always stamp explicitly (None: the system).
    """
    obj._history_user = actor
    # The history row's reason column holds 100 characters (PostgreSQL refuses longer ones).
    obj._change_reason = (reason or "")[:100] or None
