"""Personal API tokens expire and are revoked; password changes, resets and tokens are audited.

One rule decides whether a key is valid (ictms.tokens.token_check): the API (DRF) and DICOMweb
(imaging.viewer.access) both ask it. A token dies when it is older than API_TOKEN_EXPIRY_DAYS, when
its owner revokes it, and when the password changes, the account is deactivated or locked.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audit.actions import AuditAction
from audit.models import AuditEvent
from tests.trials.factories import PASSWORD
from trials.selectors import account_locks

NEW_PASSWORD = "a-fresh-passphrase-42"
API_URL = "/api/trials/"
DICOMWEB_URL = "/dicomweb/studies"
DICOMWEB_OK = 204  # an authenticated search of an archive with no studies: nothing found


def obtain(username: str = "qc_a", password: str = PASSWORD, **extra: str) -> dict:
    response = Client(**extra).post("/api/auth/token/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def api_status(key: str, scheme: str = "Token") -> int:
    return Client(HTTP_AUTHORIZATION=f"{scheme} {key}").get(API_URL).status_code


def dicomweb_status(key: str, scheme: str = "Token") -> int:
    return Client(HTTP_AUTHORIZATION=f"{scheme} {key}").get(DICOMWEB_URL).status_code


def age(user, days: float) -> None:
    """Make `user`'s token look `days` old."""
    Token.objects.filter(user=user).update(created=timezone.now() - dt.timedelta(days=days))


def events(action: AuditAction, user=None) -> list[AuditEvent]:
    qs = AuditEvent.objects.filter(action=action).order_by("seq")
    if user is not None:
        qs = qs.filter(target_type="auth.user", target_id=str(user.pk))
    return list(qs)


def revocations(user) -> list[str]:
    return [e.data["why"] for e in events(AuditAction.TOKEN_REVOKE, user)]


def assert_trail_holds_no_secret(*secrets: str) -> None:
    for event in AuditEvent.objects.all():
        text = json.dumps([event.data, event.changes, event.target_id, event.target_repr, event.reason])
        for secret in secrets:
            assert secret not in text, f"{event.action} holds a secret"


# --- issue and expiry ----------------------------------------------------------------------------

def test_the_token_endpoint_says_when_the_token_expires_and_audits_the_issue(world):
    before = timezone.now()
    body = obtain()
    token = Token.objects.get(user=world.qc)
    assert body["token"] == token.key
    expires = dt.datetime.fromisoformat(body["expires"])
    assert expires == token.created + dt.timedelta(days=settings.API_TOKEN_EXPIRY_DAYS)
    assert before + dt.timedelta(days=29) < expires <= timezone.now() + dt.timedelta(days=30)
    [issued] = events(AuditAction.TOKEN_ISSUE, world.qc)
    assert issued.trial_id is None and issued.actor_username == "qc_a" and issued.data["via"] == "api"
    # Asking again gives the same (still valid) key and issues nothing.
    assert obtain()["token"] == token.key
    assert len(events(AuditAction.TOKEN_ISSUE, world.qc)) == 1
    assert api_status(token.key) == 200 and dicomweb_status(token.key) == DICOMWEB_OK
    assert_trail_holds_no_secret(token.key, PASSWORD)


def test_the_default_lifetime_is_30_days():
    assert settings.API_TOKEN_EXPIRY_DAYS == 30


def test_a_token_just_younger_than_the_lifetime_still_works(world):
    key = obtain()["token"]
    age(world.qc, settings.API_TOKEN_EXPIRY_DAYS - 0.01)
    assert api_status(key) == 200 and dicomweb_status(key, "Bearer") == DICOMWEB_OK


def test_an_expired_token_is_refused_by_the_api_and_deleted(world):
    key = obtain()["token"]
    age(world.qc, settings.API_TOKEN_EXPIRY_DAYS + 0.01)
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(API_URL)
    assert response.status_code == 401
    assert response.json()["detail"] == "Token expired; request a new one"
    assert not Token.objects.filter(key=key).exists()
    assert revocations(world.qc) == ["expired"]
    # Gone: from now on it is just an unknown key.
    assert api_status(key) == 401
    assert_trail_holds_no_secret(key)


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_an_expired_token_is_refused_by_dicomweb_and_deleted(world, scheme):
    key = obtain()["token"]
    age(world.qc, settings.API_TOKEN_EXPIRY_DAYS + 1)
    assert dicomweb_status(key, scheme) == 401
    assert not Token.objects.filter(key=key).exists()
    assert revocations(world.qc) == ["expired"]


def test_the_lifetime_is_the_setting(world, settings):
    key = obtain()["token"]
    age(world.qc, 2)
    assert api_status(key) == 200
    settings.API_TOKEN_EXPIRY_DAYS = 1
    assert api_status(key) == 401


def test_asking_again_after_expiry_gives_a_new_key(world):
    old = obtain()["token"]
    age(world.qc, settings.API_TOKEN_EXPIRY_DAYS + 1)
    body = obtain()
    assert body["token"] != old
    assert dt.datetime.fromisoformat(body["expires"]) > timezone.now() + dt.timedelta(days=29)
    assert api_status(body["token"]) == 200 and api_status(old) == 401
    assert revocations(world.qc) == ["expired"]
    assert len(events(AuditAction.TOKEN_ISSUE, world.qc)) == 2


def test_asking_for_a_token_with_the_expired_one_still_in_the_header_works(world):
    old = obtain()["token"]
    age(world.qc, settings.API_TOKEN_EXPIRY_DAYS + 1)
    # A script that always sends its header: the password is what the token endpoint checks.
    assert obtain(HTTP_AUTHORIZATION=f"Token {old}")["token"] != old


# --- revoked by what happens to the account ------------------------------------------------------

def test_deactivating_the_account_revokes_its_token(world):
    key = obtain()["token"]
    world.qc.is_active = False
    world.qc.save()
    assert not Token.objects.filter(user=world.qc).exists()
    assert revocations(world.qc) == ["deactivated"]
    assert api_status(key) == 401 and dicomweb_status(key) == 401 and dicomweb_status(key, "Bearer") == 401


def test_a_token_of_a_deactivated_user_is_refused_even_if_it_survived(world):
    # A bulk update skips the signals: the check itself still refuses an inactive user.
    key = obtain()["token"]
    type(world.qc).objects.filter(pk=world.qc.pk).update(is_active=False)
    assert Token.objects.filter(key=key).exists()
    assert api_status(key) == 401 and dicomweb_status(key) == 401 and dicomweb_status(key, "Bearer") == 401


def test_an_inactive_user_gets_no_token(world):
    world.qc.is_active = False
    world.qc.save()
    response = Client().post("/api/auth/token/", {"username": "qc_a", "password": PASSWORD})
    assert response.status_code == 400 and "token" not in response.json()


def test_changing_the_password_on_the_page_revokes_the_token_and_is_audited(world, page_client):
    key = obtain()["token"]
    response = page_client(world.qc).post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content
    assert not Token.objects.filter(user=world.qc).exists()
    assert api_status(key) == 401 and dicomweb_status(key) == 401
    [changed] = events(AuditAction.USER_PASSWORD_CHANGE, world.qc)
    assert changed.actor_username == "qc_a" and changed.data == {"by": "self"} and changed.trial_id is None
    assert revocations(world.qc) == ["password_change"]
    assert_trail_holds_no_secret(key, PASSWORD, NEW_PASSWORD)


def test_a_password_set_outside_the_pages_revokes_the_token_too(world):
    key = obtain()["token"]
    world.qc.set_password(NEW_PASSWORD)
    world.qc.save()
    assert api_status(key) == 401
    [changed] = events(AuditAction.USER_PASSWORD_CHANGE, world.qc)
    assert changed.actor is None and changed.data == {"by": "system"}
    assert revocations(world.qc) == ["password_change"]


def test_an_admin_setting_someone_elses_password_revokes_their_token(world, page_client):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    key = obtain()["token"]
    response = page_client(staff).post(f"/admin/auth/user/{world.qc.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content
    assert api_status(key) == 401
    [changed] = events(AuditAction.USER_PASSWORD_CHANGE, world.qc)
    assert changed.actor_username == "root" and changed.data == {"by": "other"}


def test_saving_the_user_without_a_new_password_keeps_the_token(world):
    key = obtain()["token"]
    world.qc.first_name = "Renamed"
    world.qc.save()
    Client().post("/accounts/login/", {"username": "qc_a", "password": PASSWORD})  # last_login is saved
    assert api_status(key) == 200
    assert not events(AuditAction.USER_PASSWORD_CHANGE) and not revocations(world.qc)


def test_a_stronger_hash_on_sign_in_is_not_a_password_change(world, settings):
    key = obtain()["token"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    assert Client().post("/accounts/login/", {"username": "qc_a", "password": PASSWORD}).status_code == 302
    world.qc.refresh_from_db()
    assert world.qc.password.startswith("pbkdf2_sha256$")  # Django re-hashed it
    assert api_status(key) == 200
    assert not events(AuditAction.USER_PASSWORD_CHANGE) and not revocations(world.qc)


def test_a_lockout_revokes_the_token(world):
    key = obtain()["token"]
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/auth/token/", {"username": "qc_a", "password": "wrong"})
    assert account_locks(usernames=["qc_a"])
    assert not Token.objects.filter(user=world.qc).exists()
    assert "locked_out" in revocations(world.qc)
    assert api_status(key) == 401 and dicomweb_status(key) == 401
    # Another account's token is untouched.
    other = obtain("auditor_a")["token"]
    assert api_status(other) == 200


# --- password reset ------------------------------------------------------------------------------

def test_a_reset_request_is_audited_for_an_existing_account_only_and_answers_the_same(world):
    client = Client()
    known = client.post("/accounts/password_reset/", {"email": world.qc.email})
    unknown = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert client.get(known["Location"]).content == client.get(unknown["Location"]).content
    [requested] = events(AuditAction.USER_PASSWORD_RESET_REQUEST)
    assert requested.target_id == str(world.qc.pk) and requested.actor is None and requested.trial_id is None
    assert len(mail.outbox) == 1
    assert_trail_holds_no_secret(world.qc.email, "nobody@example.org")


def test_completing_a_reset_revokes_the_token_and_is_audited_as_a_reset(world):
    key = obtain()["token"]
    client = Client()
    client.post("/accounts/password_reset/", {"email": world.qc.email})
    link = re.search(r"/accounts/reset/[^/\s]+/[^/\s]+/", mail.outbox[0].body).group(0)
    set_password_url = client.get(link)["Location"]
    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/reset/done/"
    assert api_status(key) == 401
    [completed] = events(AuditAction.USER_PASSWORD_RESET_COMPLETE, world.qc)
    assert completed.actor_username == "qc_a" and completed.trial_id is None
    assert not events(AuditAction.USER_PASSWORD_CHANGE)
    assert revocations(world.qc) == ["password_change"]
    assert_trail_holds_no_secret(key, NEW_PASSWORD, link.split("/")[-2])


# --- the owner revokes: DELETE /api/auth/token/ ---------------------------------------------------

def test_the_owner_revokes_their_token_through_the_api(world):
    key = obtain()["token"]
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").delete("/api/auth/token/")
    assert response.status_code == 204
    assert api_status(key) == 401 and dicomweb_status(key) == 401
    [revoked] = events(AuditAction.TOKEN_REVOKE, world.qc)
    assert revoked.data["why"] == "owner" and revoked.actor_username == "qc_a" and revoked.trial_id is None
    assert_trail_holds_no_secret(key)


def test_revoking_needs_authentication(world):
    key = obtain()["token"]
    assert Client().delete("/api/auth/token/").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Token not-a-key").delete("/api/auth/token/").status_code == 401
    assert api_status(key) == 200 and not revocations(world.qc)


def test_one_user_cannot_revoke_anothers_token(world, page_client):
    mine = obtain("auditor_a")["token"]
    theirs = obtain("qc_a")["token"]
    # Neither the API nor the page takes a key or a user: each revokes the caller's own token only.
    response = Client(HTTP_AUTHORIZATION=f"Token {mine}").delete(
        "/api/auth/token/", json.dumps({"token": theirs, "user": world.qc.pk}), content_type="application/json")
    assert response.status_code == 204
    page_client(world.auditor).post("/accounts/token/", {"action": "revoke", "token": theirs, "user": world.qc.pk})
    assert api_status(theirs) == 200 and api_status(mine) == 401
    assert not revocations(world.qc)


def test_session_revocation_needs_the_csrf_token(world):
    obtain()
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.qc, backend="django.contrib.auth.backends.ModelBackend")
    assert client.delete("/api/auth/token/").status_code == 403
    assert client.post("/accounts/token/", {"action": "revoke"}).status_code == 403
    assert Token.objects.filter(user=world.qc).exists()


# --- the token page ------------------------------------------------------------------------------

def test_the_token_page_needs_a_sign_in(world):
    client = Client()
    for response in (client.get("/accounts/token/"), client.post("/accounts/token/", {"action": "issue"})):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Token.objects.exists()


def test_the_token_page_is_linked_from_the_user_menu(world, page_client):
    for user, url in ((world.outsider, "/"), (world.qc, "/t/TRIAL-A/qc/"), (world.qc, "/accounts/password_change/")):
        html = page_client(user).get(url, follow=True).content.decode()
        assert '<a href="/accounts/token/" id="nav-api-token">API token</a>' in html, url


def test_the_token_page_issues_shows_the_key_once_and_revokes(world, page_client):
    client = page_client(world.qc)
    assert "You have no API token" in client.get("/accounts/token/").content.decode()

    response = client.post("/accounts/token/", {"action": "issue"})
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    token = Token.objects.get(user=world.qc)
    html = response.content.decode()
    assert f'value="{token.key}"' in html and "not shown again" in html
    assert "<script>" not in html and "style=" not in html
    [issued] = events(AuditAction.TOKEN_ISSUE, world.qc)
    assert issued.data["via"] == "page"

    html = client.get("/accounts/token/").content.decode()
    assert token.key not in html
    assert timezone.localtime(token.created).strftime("%Y-%m-%d %H:%M") in html
    assert (token.created + dt.timedelta(days=30)).strftime("%Y-%m-%d %H:%M") in html
    assert api_status(token.key) == 200

    # Issuing again replaces the key.
    client.post("/accounts/token/", {"action": "issue"})
    new = Token.objects.get(user=world.qc)
    assert new.key != token.key and api_status(token.key) == 401 and api_status(new.key) == 200
    assert revocations(world.qc) == ["owner"]

    response = client.post("/accounts/token/", {"action": "revoke"})
    assert response.status_code == 302 and response["Location"] == "/accounts/token/"
    assert not Token.objects.filter(user=world.qc).exists() and api_status(new.key) == 401
    assert revocations(world.qc) == ["owner", "owner"]
    assert "You have no API token" in client.get("/accounts/token/").content.decode()
    assert_trail_holds_no_secret(token.key, new.key)


def test_the_token_page_says_an_old_token_has_expired(world, page_client):
    obtain()
    age(world.qc, settings.API_TOKEN_EXPIRY_DAYS + 1)
    html = page_client(world.qc).get("/accounts/token/").content.decode()
    assert "Expired" in html and "issue a new one" in html


def test_a_locked_account_cannot_issue_a_token_from_an_open_session(world, page_client):
    client = page_client(world.qc)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": "qc_a", "password": "wrong"})
    response = client.post("/accounts/token/", {"action": "issue"}, follow=True)
    assert "locked" in response.content.decode()
    assert not Token.objects.filter(user=world.qc).exists()


def test_an_unknown_action_changes_nothing(world, page_client):
    key = obtain()["token"]
    response = page_client(world.qc).post("/accounts/token/", {"action": "delete-everything"})
    assert response.status_code == 302 and api_status(key) == 200


def test_the_copy_button_is_a_static_module(world, page_client):
    html = page_client(world.qc).post("/accounts/token/", {"action": "issue"}).content.decode()
    assert 'data-copy="new-token-key"' in html and "/static/js/token.js" in html
