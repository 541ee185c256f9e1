"""Reads of the audit trail, scoped to trials whose trail the caller may see."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from audit.models import AuditEvent
from trials.models import Trial


def audit_trials_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Trial]:
    if not (user and user.is_authenticated and user.is_active):
        return Trial.objects.none()
    return get_objects_for_user(user, "trials.view_audit_trail", klass=Trial, accept_global_perms=False)


@dataclass(frozen=True)
class AuditFilter:
    object: str = ""  # "type:id" (e.g. "trials.participant:12") or free text in the object's name
    user: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def audit_event_list_for_user(
    *, user: AbstractBaseUser | AnonymousUser, trial: Trial | None = None, filters: AuditFilter | None = None
) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(trial__in=audit_trials_for_user(user=user)).select_related("trial")
    if trial is not None:
        qs = qs.filter(trial=trial)
    f = filters or AuditFilter()
    if f.object:
        target_type, sep, target_id = f.object.partition(":")
        if sep and target_id:
            qs = qs.filter(target_type=target_type, target_id=target_id)
        else:
            qs = qs.filter(Q(target_repr__icontains=f.object) | Q(target_type__icontains=f.object))
    if f.user:
        qs = qs.filter(actor_username__iexact=f.user)
    if f.action:
        qs = qs.filter(action__startswith=f.action)
    if f.date_from:
        qs = qs.filter(at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(at__date__lte=f.date_to)
    return qs.order_by("-seq")


def audit_action_names(*, trial: Trial) -> list[str]:
    return list(AuditEvent.objects.filter(trial=trial).order_by("action").values_list("action", flat=True).distinct())
