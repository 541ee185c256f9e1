"""Factories for the trials app. Memberships go through the permission sync, as in production."""
from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.contrib.auth import get_user_model

from trials.choices import Role
from trials.models import Membership, Participant, Site, TimepointDefinition, Trial, Visit
from trials.permissions import membership_permissions_sync

PASSWORD = "pw-for-tests-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Test"
    last_name = factory.LazyAttribute(lambda u: u.username.title())
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class TrialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trial
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"TRIAL-{n:03d}")
    title = factory.LazyAttribute(lambda t: f"Trial {t.code}")
    sponsor_name = "Sponsor Inc."
    status = "active"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    trial = factory.SubFactory(TrialFactory)
    number = factory.Sequence(lambda n: f"{300 + n}")
    name = factory.LazyAttribute(lambda s: f"Site {s.number}")
    country = "DE"
    ae_title = factory.LazyAttribute(lambda s: f"SITE{s.number}")


def member(trial: Trial, role: str, *, site: Site | None = None, username: str | None = None, user: Any = None) -> Any:
    """A user holding `role` in `trial`, with the guardian permissions the role implies."""
    user = user or UserFactory(**({"username": username} if username else {}))
    Membership.objects.create(user=user, trial=trial, role=role, site=site if role == Role.SITE_COORDINATOR else None)
    membership_permissions_sync(user=user, trial=trial)
    return user


def schedule(trial: Trial) -> list[TimepointDefinition]:
    rows = [("BL", "Baseline", 1, 0, 28, 0, True), ("W8", "Week 8", 2, 56, 7, 7, False), ("W16", "Week 16", 3, 112, 7, 7, False)]
    return [
        TimepointDefinition.objects.create(trial=trial, code=c, label=label, order=o, nominal_day=d, window_before=b,
                                           window_after=a, is_baseline=bl)
        for c, label, o, d, b, a, bl in rows
    ]


def participant(actor: Any, site: Site, subject_code: str, treatment_start: dt.date | None = None) -> Participant:
    from trials.services import participant_enrol

    return participant_enrol(actor=actor, site=site, subject_code=subject_code,
                             treatment_start_date=treatment_start or dt.date.today() - dt.timedelta(days=30))


def visit(p: Participant, code: str) -> Visit:
    return Visit.objects.select_related("participant", "timepoint").get(participant=p, timepoint__code=code)
