"""Login security and deployment settings that users of regulated systems expect."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from audit.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]


def test_login_locks_the_account_after_repeated_failures(world):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        r = client.post("/accounts/login/", {"username": "coord_101", "password": "wrong"})
        assert r.status_code == 200
    assert client.post("/accounts/login/", {"username": "coord_101", "password": "wrong"}).status_code == 429
    # Now even the right password is refused.
    r = client.post("/accounts/login/", {"username": "coord_101", "password": "pw-for-tests-123"})
    assert r.status_code == 429 and "locked" in r.content.decode()
    assert AuditEvent.objects.filter(action="user.login_failed").count() >= settings.AXES_FAILURE_LIMIT


def test_the_token_endpoint_shares_the_lockout(world):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/auth/token/", {"username": "qc_a", "password": "wrong"})
    r = client.post("/api/auth/token/", {"username": "qc_a", "password": "pw-for-tests-123"})
    assert r.status_code in (400, 403, 429) and "token" not in r.json()
    # Another account is unaffected.
    assert "token" in client.post("/api/auth/token/", {"username": "auditor_a", "password": "pw-for-tests-123"}).json()


def test_a_good_login_is_audited_and_lands_on_the_role_home(world):
    client = Client()
    r = client.post("/accounts/login/", {"username": "coord_101", "password": "pw-for-tests-123"}, REMOTE_ADDR="10.0.0.7")
    assert r.status_code == 302
    assert client.get("/", follow=True).redirect_chain[-1][0] == "/t/TRIAL-A/participants/"
    event = AuditEvent.objects.filter(action="user.login").last()
    assert event.actor_username == "coord_101" and event.ip == "10.0.0.7"


def test_token_auth_works_for_scripts(world):
    client = Client()
    token = client.post("/api/auth/token/", {"username": "coord_101", "password": "pw-for-tests-123"}).json()["token"]
    r = client.get("/api/participants/", HTTP_AUTHORIZATION=f"Token {token}")
    assert r.status_code == 200 and r.json()["results"][0]["subject_code"] == "101-001"


def test_csrf_is_enforced_on_pages(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.coordinator, backend="django.contrib.auth.backends.ModelBackend")
    r = client.post("/t/TRIAL-A/participants/", {"site": world.site.pk, "subject_code": "101-009"})
    assert r.status_code == 403


def test_csrf_is_enforced_on_session_authenticated_api_calls(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.coordinator, backend="django.contrib.auth.backends.ModelBackend")
    r = client.post("/api/participants/", {"trial": "TRIAL-A", "site": "101", "subject_code": "101-009"},
                    content_type="application/json")
    assert r.status_code == 403


def test_sessions_time_out_when_idle():
    assert settings.SESSION_COOKIE_AGE <= 60 * 60 and settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


@pytest.mark.parametrize("password", ["short1", "password1234", "12345678901234", "coord_101coord"])
def test_weak_passwords_are_refused(world, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=world.coordinator)


def test_a_strong_password_passes(world):
    validate_password("violet-Harbour-93-kettle", user=world.coordinator)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    drop = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_like_variables(tmp_path):
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], {
        "DEBUG": "0", "SECRET_KEY": "a" * 20 + "production-like-secret-key-with-enough-entropy-8x2", "ALLOWED_HOSTS": "ictms.example.org",
        "ICTMS_VAR_DIR": str(tmp_path),
    })
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run(["check"], {"DEBUG": "0", "ALLOWED_HOSTS": "x", "ICTMS_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_a_bad_boolean_fails_loudly(tmp_path):
    result = _run(["check"], {"DEBUG": "maybe", "ICTMS_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr


def test_every_setting_variable_is_documented():
    import re

    source = (ROOT / "ictms" / "settings.py").read_text()
    used = set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', source))
    example = (ROOT / ".env.example").read_text()
    docs = (ROOT / "docs" / "deployment.md").read_text()
    missing = sorted(v for v in used if v not in example or v not in docs)
    assert not missing, f"not in .env.example or docs/deployment.md: {missing}"


def test_docker_compose_passes_the_variables_the_settings_need():
    compose = (ROOT / "docker-compose.yml").read_text()
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
        assert name in compose
    assert "gunicorn" in compose and "celery" in compose and "postgres" in compose and "redis" in compose
