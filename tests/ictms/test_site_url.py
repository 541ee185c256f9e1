"""Links in e-mails point to the server people use (issue #17 item 3)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ictms.lib.env import public_url, url_host

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("configured,host,port,expected", [
    ("https://ictms.example.org/", "127.0.0.1", "8000", "https://ictms.example.org"),
    ("", "127.0.0.1", "8000", "http://127.0.0.1:8000"),
    ("", "10.1.2.3", "8123", "http://10.1.2.3:8123"),
    ("", "0.0.0.0", "9000", "http://imaging-lab:9000"),
    ("", "::1", "8000", "http://[::1]:8000"),
    ("", "", "", "http://127.0.0.1:8000"),
])
def test_the_public_url(configured, host, port, expected):
    assert public_url(configured, host, port, hostname="imaging-lab") == expected


@pytest.mark.parametrize("url,host", [
    ("https://ictms.example.org", "ictms.example.org"), ("http://10.1.2.3:8123", "10.1.2.3"), ("http://[::1]:8000", "[::1]"),
])
def test_url_host(url, host):
    assert url_host(url) == host


def loaded(tmp_path: Path, **env: str) -> dict:
    drop = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "SITE_URL", "ALLOWED_HOSTS", "ICTMS_HOST", "ICTMS_PORT",
            "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in drop}
    code = "import ictms.settings as s; print(repr({'SITE_URL': s.SITE_URL, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, "ICTMS_VAR_DIR": str(tmp_path), **env},
                            capture_output=True, text=True, timeout=60, check=True)
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_the_embedded_server_links_to_where_make_run_serves(tmp_path):
    values = loaded(tmp_path, ICTMS_HOST="10.1.2.3", ICTMS_PORT="8123")
    assert values["SITE_URL"] == "http://10.1.2.3:8123" and "10.1.2.3" in values["ALLOWED_HOSTS"]
    assert loaded(tmp_path)["SITE_URL"] == "http://127.0.0.1:8000"


def test_a_configured_site_url_wins(tmp_path):
    values = loaded(tmp_path, SITE_URL="https://ictms.example.org/", ICTMS_HOST="10.1.2.3", ICTMS_PORT="8123")
    assert values["SITE_URL"] == "https://ictms.example.org" and "ictms.example.org" in values["ALLOWED_HOSTS"]


def test_make_passes_host_and_port_to_the_server_process():
    result = subprocess.run(
        ["make", "-s", "--eval", "show-address: ; @echo $$ICTMS_HOST:$$ICTMS_PORT", "show-address", "HOST=10.1.2.3", "PORT=8123"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "10.1.2.3:8123"


def test_the_invitation_link_leads_to_the_configured_server(world, settings, mailoutbox, django_capture_on_commit_callbacks):
    from trials import services

    settings.SITE_URL = public_url("", "10.1.2.3", "8123", hostname="unused")
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_invite(actor=world.admin, trial=world.trial, email="new.reader@example.org", role="reader")
    body = next(m.body for m in mailoutbox if m.to == ["new.reader@example.org"])
    assert "http://10.1.2.3:8123/accounts/reset/" in body
