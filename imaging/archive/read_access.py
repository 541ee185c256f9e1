"""What a blinded reader may open and how they see it, decided by the reads app.

imaging imports no reads: the reads app registers a provider here when it is ready, and the
archive selectors and the blinding gate (imaging.dicomweb.blinding) ask it. Without a provider
(reads not installed) readers open nothing, and anything a blinded user is served is blinded
with no case code and no dates (fail closed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import Q

from ictms.lib.users import AnyUser


@dataclass(frozen=True)
class Blinding:
    """How one blinded user sees one study: its case code, and the shift that moves its dates."""

    code: str  # PatientName and PatientID become this
    day_shift: int | None  # days added to every stored date (None: dates are withheld)


class ReadAccessProvider(Protocol):
    def visit_ids(self, user: AnyUser) -> Any:
        """A queryset of `visit_id` values whose images `user` may open as a reader."""

    def blinding(self, user: AnyUser, participant_id: int, trial_id: int) -> Blinding | None:
        """How `user` sees a study of that participant, or None when `user` is not blinded there."""


_providers: list[ReadAccessProvider] = []  # at most one: the reads app's


def register(provider: ReadAccessProvider) -> None:
    _providers[:] = [provider]


def _provider() -> ReadAccessProvider | None:
    return _providers[0] if _providers else None


def read_scope(*, user: AnyUser, prefix: str = "") -> Q:
    """A filter on `<prefix>visit_id` for the visits `user` may open as a reader (none by default)."""
    provider = _provider()
    if provider is None or not (user and user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    return Q(**{f"{prefix}visit_id__in": provider.visit_ids(user)})


def read_visit_scope(*, user: AnyUser) -> Q:
    """A filter on Visit rows: the visits `user` may open as a reader (none by default)."""
    provider = _provider()
    if provider is None or not (user and user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    return Q(pk__in=provider.visit_ids(user))


FAIL_CLOSED = Blinding(code="BLINDED", day_shift=None)


def blinding_for(user: AnyUser, *, participant_id: int, trial_id: int) -> Blinding | None:
    """How `user` sees that participant's images (None: unblinded), remembered for the request."""
    if not (user and user.is_authenticated):
        return None
    cache: dict[tuple[int, int], Blinding | None] = user.__dict__.setdefault("_ictms_blinding", {})
    key = (trial_id, participant_id)
    if key not in cache:
        provider = _provider()
        if provider is None:
            from trials.choices import BLINDED_ROLES
            from trials.models import Membership

            blinded = Membership.objects.filter(user_id=user.pk, trial_id=trial_id, is_active=True,
                                                role__in=BLINDED_ROLES).exists()
            cache[key] = FAIL_CLOSED if blinded else None
        else:
            cache[key] = provider.blinding(user, participant_id, trial_id)
    return cache[key]
