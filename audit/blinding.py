"""Field-level blinding of the audit trail: what a viewer may not see elsewhere, the trail hides too.

The treatment arm is recorded in the trail (enrolment, corrections) like every other field, and
the keyed hash covers it; to a viewer without `trials.view_participant_arm` on the event's trial
(an auditor, a blinded admin) the page, the API and the CSV export show "(blinded)" instead of
the value, before and after alike. The stored row is unchanged.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from audit.models import AuditEvent

BLINDED = "(blinded)"
# Field name in `changes` / key in `data` -> the trial permission that lets a viewer see it.
BLINDED_FIELDS = {"arm": "trials.view_participant_arm"}


class Blinder:
    """Knows, per trial, which fields the viewer may not see, and hides them in an event's values."""

    def __init__(self, user: AbstractBaseUser | AnonymousUser) -> None:
        from trials.selectors import trials_with

        self._visible = {field: set(trials_with(user, perm).values_list("id", flat=True))
                         for field, perm in BLINDED_FIELDS.items()}

    def hidden(self, trial_id: int | None) -> frozenset[str]:
        return frozenset(field for field, trials in self._visible.items() if trial_id not in trials)

    def changes(self, event: AuditEvent) -> dict[str, Any]:
        hidden = self.hidden(event.trial_id)
        return {k: ([BLINDED if v not in (None, "") else v for v in pair] if k in hidden and isinstance(pair, list)
                    else (BLINDED if k in hidden else pair))
                for k, pair in event.changes.items()}

    def data(self, event: AuditEvent) -> dict[str, Any]:
        hidden = self.hidden(event.trial_id)
        return {k: (BLINDED if k in hidden and v not in (None, "") else v) for k, v in event.data.items()}

    def events(self, events: Iterable[AuditEvent]) -> Iterator[AuditEvent]:
        """The events with `shown_changes` / `shown_data` set: what the page and the export display."""
        for event in events:
            event.shown_changes = self.changes(event)  # type: ignore[attr-defined]
            event.shown_data = self.data(event)  # type: ignore[attr-defined]
            yield event
