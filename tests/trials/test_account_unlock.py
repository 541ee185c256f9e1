"""A trial admin unlocks a member's locked account; the lockout page says how long the lock lasts (issue #17 item 12)."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from trials import services
from trials.models import Membership

PASSWORD = "pw-for-tests-123"


def lock(username: str) -> Client:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": username, "password": "wrong"})
    return client


def can_log_in(username: str) -> bool:
    r = Client().post("/accounts/login/", {"username": username, "password": PASSWORD})
    return r.status_code == 302


@pytest.fixture
def membership(world):
    return Membership.objects.get(user=world.coordinator, trial=world.trial, is_active=True)


def edit_url(membership) -> str:
    return f"/t/TRIAL-A/members/{membership.pk}/"


def test_the_lockout_page_says_how_long_the_lock_lasts(world):
    r = lock("coord_101").post("/accounts/login/", {"username": "coord_101", "password": PASSWORD})
    body = r.content.decode()
    assert r.status_code == 429
    assert f"ends by itself {settings.AXES_COOLOFF_TIME * 60:.0f} minutes after the last failed attempt" in body
    assert "trial admin to unlock it" in body


def test_the_trial_admin_unlocks_a_locked_member_with_a_reason(page_client, world, membership):
    lock("coord_101")
    assert not can_log_in("coord_101")
    admin = page_client(world.admin)
    assert "Locked" in admin.get("/t/TRIAL-A/members/").content.decode()
    page = admin.get(edit_url(membership)).content.decode()
    assert "Unlock the account" in page

    r = admin.post(edit_url(membership), {"unlock-reason": " "})
    assert r.status_code == 200 and "This field is required" in r.content.decode()
    assert not can_log_in("coord_101")

    r = admin.post(edit_url(membership), {"unlock-reason": "phoned her at site 101"})
    assert r.status_code == 302
    event = AuditEvent.objects.filter(action="user.unlock").latest("id")
    assert event.reason == "phoned her at site 101" and event.data["username"] == "coord_101"
    assert event.data["failures"] >= settings.AXES_FAILURE_LIMIT and event.trial_id == world.trial.pk
    assert "Not locked" in admin.get(edit_url(membership)).content.decode()
    assert can_log_in("coord_101")


@pytest.mark.parametrize("persona,status", [("coordinator", 403), ("qc", 403), ("auditor", 403), ("admin_b", 404),
                                            ("outsider", 404)])
def test_only_the_trials_admin_may_unlock(page_client, world, membership, persona, status):
    client = page_client(world.user(persona))  # signing in first: a sign-in of coord_101 itself ends its lock
    lock("coord_101")
    r = client.post(edit_url(membership), {"unlock-reason": "please"})
    assert r.status_code == status
    assert not can_log_in("coord_101")
    assert not AuditEvent.objects.filter(action="user.unlock").exists()


def test_the_service_checks_permission_reason_and_lock(world, membership):
    with pytest.raises(DomainError, match="not locked"):
        services.member_unlock(actor=world.admin, membership=membership, reason="just in case")
    lock("coord_101")
    with pytest.raises(PermissionDeniedError):
        services.member_unlock(actor=world.qc, membership=membership, reason="x")
    with pytest.raises(NotFoundError):
        services.member_unlock(actor=world.admin_b, membership=membership, reason="x")
    assert services.member_unlock(actor=world.admin, membership=membership, reason="verified by phone") >= 1
    assert can_log_in("coord_101")


def test_locks_of_other_accounts_stay(page_client, world, membership):
    lock("coord_101")
    lock("qc_a")
    services.member_unlock(actor=world.admin, membership=membership, reason="verified")
    assert can_log_in("coord_101") and not can_log_in("qc_a")
