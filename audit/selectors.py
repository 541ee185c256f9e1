"""Reads of the audit trail, scoped to trials whose trail the caller may see."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from audit.models import AuditEvent
from trials.models import Trial


def audit_trials_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Trial]:
    if not (user and user.is_authenticated and user.is_active):
        return Trial.objects.none()
    return get_objects_for_user(user, "trials.view_audit_trail", klass=Trial, accept_global_perms=False)


def audit_event_list_for_user(
    *, user: AbstractBaseUser | AnonymousUser, trial: Trial | None = None
) -> QuerySet[AuditEvent]:
    """Events of trials whose trail the caller may see, newest first (narrowed by audit.filters)."""
    qs = AuditEvent.objects.filter(trial__in=audit_trials_for_user(user=user)).select_related("trial")
    if trial is not None:
        qs = qs.filter(trial=trial)
    return qs.order_by("-seq")


def audit_action_names(*, trial: Trial) -> list[tuple[str, str]]:
    """(action, its name in words) for every action in the trial's trail, for the action filter."""
    from audit.actions import AuditAction

    names = AuditEvent.objects.filter(trial=trial).order_by("action").values_list("action", flat=True).distinct()
    labels = dict(AuditAction.choices)
    return sorted(((a, str(labels.get(a, a))) for a in names), key=lambda pair: pair[1].lower())
