"""Actions on stored images that are not changes: opening them is recorded in the audit trail."""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from audit.actions import AuditAction
from audit.services import audit_record_many
from ictms.lib.users import AnyUser
from imaging.models import Series


def series_opened(*, actor: AnyUser, series: Iterable[Series], via: str) -> int:
    """Record that `actor` opened these series' images: one event per series and page load (the
    viewer) or retrieve (DICOMweb study or series), never per frame, so caching and prefetching stay
    cheap. The caller has already scoped `series` to what the actor may see. Returns the events written."""
    rows = list(series)
    if not rows or not (actor and actor.is_authenticated):
        return 0
    with transaction.atomic():
        audit_record_many([
            {"actor": actor, "action": AuditAction.SERIES_VIEW, "target": s, "trial": s.study.participant.trial_id,
             "subject": s.study.participant_id, "data": {"via": via, "visit": s.study.visit_id}}
            for s in rows
        ])
    return len(rows)
