"""Log-in lockout by (account, client address), an address-wide limit against spraying, lockouts
audited, and the OpenAPI schema and its docs for signed-in users only (ictms.lib.lockout)."""
from __future__ import annotations

import base64

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from ictms.lib import request_context
from trials import selectors, services
from trials.models import Membership

PASSWORD = "pw-for-tests-123"
HOME = "10.0.0.1"  # the attacker's, or the user's own, address
AWAY = "10.0.0.2"
ACCOUNTS = ["coord_101", "coord_102", "qc_a", "reader_a", "adjudicator_a", "sponsor_a", "auditor_a", "admin_a"]


def login(username: str, password: str, ip: str = HOME) -> int:
    return Client(REMOTE_ADDR=ip).post("/accounts/login/", {"username": username, "password": password}).status_code


def fail(username: str, times: int, ip: str = HOME) -> list[int]:
    return [login(username, "wrong", ip) for _ in range(times)]


def token(username: str, password: str, ip: str = HOME) -> dict:
    return Client(REMOTE_ADDR=ip).post("/api/auth/token/", {"username": username, "password": password}).json()


def dicomweb(username: str, password: str, ip: str = HOME) -> int:
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    return Client(REMOTE_ADDR=ip, HTTP_AUTHORIZATION=f"Basic {basic}").get("/dicomweb/studies").status_code


def lockouts() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="user.lockout").order_by("seq"))


# --- per account and address ---------------------------------------------------------------------

def test_the_limit_locks_the_account_from_that_address_only(world):
    limit = settings.AXES_FAILURE_LIMIT
    assert fail("coord_101", limit) == [200] * (limit - 1) + [429]
    assert login("coord_101", PASSWORD) == 429
    assert login("coord_101", PASSWORD, ip=AWAY) == 302
    assert login("qc_a", PASSWORD) == 302  # another account from the same address is not locked


def test_one_failure_short_of_the_limit_locks_nothing(world):
    fail("coord_101", settings.AXES_FAILURE_LIMIT - 1)
    assert login("coord_101", PASSWORD) == 302


def test_failures_from_different_addresses_do_not_add_up(world):
    fail("coord_101", settings.AXES_FAILURE_LIMIT - 1, ip=HOME)
    fail("coord_101", settings.AXES_FAILURE_LIMIT - 1, ip=AWAY)
    assert selectors.account_locks(usernames=["coord_101"]) == {}
    assert login("coord_101", PASSWORD, ip=HOME) == 302 and login("coord_101", PASSWORD, ip=AWAY) == 302


def test_the_token_endpoint_locks_by_account_and_address(world):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert "token" not in token("qc_a", "wrong")
    assert "token" not in token("qc_a", PASSWORD)
    assert "token" in token("qc_a", PASSWORD, ip=AWAY)


def test_dicomweb_basic_authentication_locks_by_account_and_address(world):
    limit = settings.AXES_FAILURE_LIMIT
    assert [dicomweb("qc_a", "wrong") for _ in range(limit)] == [401] * (limit - 1) + [429]
    assert dicomweb("qc_a", PASSWORD) == 429
    assert dicomweb("qc_a", PASSWORD, ip=AWAY) in (200, 204)
    assert AccessAttempt.objects.get(username="qc_a").ip_address == HOME


def test_page_token_and_basic_failures_share_one_count(world):
    fail("qc_a", 2)
    token("qc_a", "wrong")
    dicomweb("qc_a", "wrong")
    assert fail("qc_a", 1) == [429]


def test_refused_attempts_neither_count_nor_extend_the_lock(world):
    fail("coord_101", settings.AXES_FAILURE_LIMIT)
    last = AccessAttempt.objects.get(username="coord_101").attempt_time
    for _ in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT + 5):
        assert login("coord_101", "wrong") == 429
    attempt = AccessAttempt.objects.get(username="coord_101")
    assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT and attempt.attempt_time == last
    assert login("qc_a", PASSWORD) == 302  # the user hammering a locked account does not block the address


# --- the address as a whole ------------------------------------------------------------------------

def spray(total: int, ip: str = HOME) -> list[int]:
    """`total` failures from `ip`, a few per account, never reaching the per-account limit."""
    per_account = settings.AXES_FAILURE_LIMIT - 1
    statuses: list[int] = []
    for username in ACCOUNTS:
        n = min(per_account, total - len(statuses))
        statuses += fail(username, n, ip)
    assert len(statuses) == total, "not enough accounts in the world to spray with"
    return statuses


def test_an_address_failing_against_many_accounts_is_blocked(world):
    limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
    assert limit > settings.AXES_FAILURE_LIMIT
    statuses = spray(limit)
    assert statuses == [200] * (limit - 1) + [429]
    body = Client(REMOTE_ADDR=HOME).post("/accounts/login/", {"username": "outsider", "password": PASSWORD})
    assert body.status_code == 429 and "from your network address" in body.content.decode()
    assert "token" not in token("outsider", PASSWORD)
    assert dicomweb("outsider", PASSWORD) == 429
    # Elsewhere, everybody signs in; and no account is locked (the members page shows none).
    assert login("outsider", PASSWORD, ip=AWAY) == 302 and login("coord_101", PASSWORD, ip=AWAY) == 302
    assert selectors.account_locks(usernames=ACCOUNTS) == {}


def test_one_failure_short_of_the_address_limit_blocks_nothing(world):
    spray(settings.LOGIN_ADDRESS_FAILURE_LIMIT - 1)
    assert login("outsider", PASSWORD) == 302


def test_a_good_sign_in_from_the_address_does_not_reset_its_count(world):
    spray(settings.LOGIN_ADDRESS_FAILURE_LIMIT - 1)
    assert login("outsider", PASSWORD) == 302  # e.g. the attacker's own account
    assert fail("outsider", 1) == [429]


def test_the_address_limit_can_be_turned_off(world, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 0
    spray(24)
    assert login("outsider", PASSWORD) == 302


def test_axes_counts_the_address_the_audit_trail_records(world, monkeypatch):
    assert settings.AXES_CLIENT_IP_CALLABLE == "ictms.lib.request_context.client_ip_from_request"
    monkeypatch.setattr(request_context, "client_ip_from_request", lambda request: "198.51.100.7")
    fail("coord_101", 1)
    assert AccessAttempt.objects.get(username="coord_101").ip_address == "198.51.100.7"


def test_the_attempt_and_the_audit_event_have_the_same_address(world):
    fail("coord_101", 1, ip="203.0.113.5")
    event = AuditEvent.objects.filter(action="user.login_failed").latest("seq")
    assert AccessAttempt.objects.get(username="coord_101").ip_address == event.ip == "203.0.113.5"


# --- audit ------------------------------------------------------------------------------------------

def test_a_lockout_is_audited_once(world):
    fail("coord_101", settings.AXES_FAILURE_LIMIT - 1)
    assert lockouts() == []
    fail("coord_101", 1)
    login("coord_101", PASSWORD)
    fail("coord_101", 3)  # refused: the lock already holds
    [event] = lockouts()
    assert event.trial_id is None and event.actor_id is None and event.ip == HOME
    assert event.data == {"username": "coord_101", "address": HOME, "scope": "account"}
    assert event.action_label == "Account locked after failed sign-ins"


def test_a_lockout_from_another_address_is_audited_again(world):
    fail("coord_101", settings.AXES_FAILURE_LIMIT)
    fail("coord_101", settings.AXES_FAILURE_LIMIT, ip=AWAY)
    assert [(e.data["username"], e.data["address"]) for e in lockouts()] == [("coord_101", HOME), ("coord_101", AWAY)]


def test_a_blocked_address_is_audited_once(world):
    spray(settings.LOGIN_ADDRESS_FAILURE_LIMIT)
    login("outsider", PASSWORD)
    [event] = lockouts()
    assert event.data["scope"] == "address" and event.data["address"] == HOME and event.trial_id is None


def test_a_lockout_through_the_token_endpoint_is_audited(world):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        token("qc_a", "wrong")
    [event] = lockouts()
    assert event.data == {"username": "qc_a", "address": HOME, "scope": "account"}


# --- the trial admin's view and unlock ------------------------------------------------------------------

@pytest.fixture
def membership(world):
    return Membership.objects.get(user=world.coordinator, trial=world.trial, is_active=True)


def test_an_account_locked_from_any_address_is_locked(world):
    fail("coord_101", settings.AXES_FAILURE_LIMIT, ip=AWAY)
    fail("coord_101", 1, ip=HOME)
    locks = selectors.account_locks(usernames=["coord_101", "qc_a"])
    assert list(locks) == ["coord_101"]
    assert locks["coord_101"] >= AccessAttempt.objects.get(username="coord_101", ip_address=AWAY).attempt_time


def test_unlocking_clears_the_account_from_every_address(world, membership):
    fail("coord_101", settings.AXES_FAILURE_LIMIT, ip=HOME)
    fail("coord_101", settings.AXES_FAILURE_LIMIT, ip=AWAY)
    fail("qc_a", settings.AXES_FAILURE_LIMIT, ip=HOME)
    assert services.member_unlock(actor=world.admin, membership=membership, reason="phoned her") == 2
    assert not AccessAttempt.objects.filter(username="coord_101").exists()
    assert login("coord_101", PASSWORD, ip=HOME) == 302 and login("coord_101", PASSWORD, ip=AWAY) == 302
    assert login("qc_a", PASSWORD, ip=HOME) == 429
    event = AuditEvent.objects.filter(action="user.unlock").latest("seq")
    assert event.data["addresses"] == [HOME, AWAY] and event.data["failures"] == 2 * settings.AXES_FAILURE_LIMIT


# --- the OpenAPI schema and its docs page --------------------------------------------------------------

@pytest.mark.parametrize("accept", [None, "application/json", "application/vnd.oai.openapi"])
def test_the_schema_refuses_anonymous_clients_in_json(world, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    r = Client().get("/api/schema/", **headers)
    assert r.status_code == 401 and r["Content-Type"] == "application/json"
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    assert "WWW-Authenticate" in r


def test_the_schema_refuses_a_bad_token(world):
    r = Client(HTTP_AUTHORIZATION="Token not-a-token").get("/api/schema/")
    assert r.status_code == 401 and r["Content-Type"] == "application/json" and "paths" not in r.content.decode()


def test_the_schema_answers_a_token_and_a_session(world, page_client):
    key = Token.objects.create(user=world.outsider).key
    r = Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and "/api/trials/" in r.json()["paths"]
    r = page_client(world.outsider).get("/api/schema/")
    assert r.status_code == 200 and "openapi:" in r.content.decode()


def test_the_docs_page_sends_anonymous_visitors_to_the_login_page(world, page_client):
    for url in ("/api/docs/", "/api/docs/?script="):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/?next=/api/docs/")
    assert page_client(world.outsider).get("/api/docs/").status_code == 200


# --- the client address behind a reverse proxy (TRUSTED_PROXIES) -----------------------------------------

PROXY = "10.9.0.1"


def address(remote: str, forwarded: str | None = None) -> str | None:
    from django.test import RequestFactory

    extra = {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})}
    return request_context.client_ip_from_request(RequestFactory().get("/", **extra))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert address(PROXY, "198.51.100.7") == PROXY


@pytest.mark.parametrize("proxies,remote,forwarded,expected", [
    ([PROXY], PROXY, "198.51.100.7", "198.51.100.7"),
    ([PROXY], PROXY, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own entry is forged: ignored
    (["10.9.0.0/16"], PROXY, "198.51.100.7, 10.9.0.2", "198.51.100.7"),  # two proxies of ours
    ([PROXY], "192.0.2.1", "198.51.100.7", "192.0.2.1"),  # not from our proxy: its header is not believed
    ([PROXY], PROXY, "", PROXY),
    ([PROXY], PROXY, "198.51.100.7, not-an-address", PROXY),
    ([PROXY], PROXY, None, PROXY),
    (["2001:db8::/32"], "2001:db8::1", "2001:db8:0:0::9, 2a00:1450::5", "2a00:1450::5"),
])
def test_a_trusted_proxy_names_the_client(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    assert address(remote, forwarded) == expected


def test_behind_the_proxy_each_client_is_locked_on_its_own(world, settings):
    settings.TRUSTED_PROXIES = [PROXY]

    def via_proxy(client_ip: str, password: str) -> int:
        return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_ip).post(
            "/accounts/login/", {"username": "coord_101", "password": password}).status_code

    assert [via_proxy("198.51.100.7", "wrong") for _ in range(settings.AXES_FAILURE_LIMIT)][-1] == 429
    assert via_proxy("198.51.100.7", PASSWORD) == 429
    assert via_proxy("203.0.113.5", PASSWORD) == 302
    assert lockouts()[0].ip == "198.51.100.7"
    assert AuditEvent.objects.filter(action="user.login").latest("seq").ip == "203.0.113.5"


def test_a_bad_trusted_proxy_fails_start_up(tmp_path):
    from tests.ictms.test_security import _run

    result = _run(["check"], {"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local", "ICTMS_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "TRUSTED_PROXIES: 'proxy.local'" in result.stderr


def test_a_blocked_address_revokes_no_account_token(world):
    # Spraying from one address blocks the address; the sprayed accounts' tokens say nothing about that,
    # so none is revoked (a lock of the account itself does revoke its token: tests/ictms/test_tokens.py).
    from rest_framework.authtoken.models import Token

    keys = {name: token(name, PASSWORD, ip=AWAY)["token"] for name in ACCOUNTS}
    spray(settings.LOGIN_ADDRESS_FAILURE_LIMIT + 3)
    assert set(Token.objects.filter(user__username__in=ACCOUNTS).values_list("key", flat=True)) == set(keys.values())
