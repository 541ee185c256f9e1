"""Users see the product's error pages in every mode, the embedded one too (issue #17 item 5)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
TECHNICAL = ("URLconf", "Using the URLconf", "Django tried these URL patterns", "Traceback")


def embedded_settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    """DEBUG, DEV_MODE and the static-file switches of the settings module as `make run` loads them."""
    drop = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ICTMS_DEBUG_PAGES", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in drop} | {"ICTMS_VAR_DIR": str(tmp_path), **extra}
    code = ("import ictms.settings as s; print(repr({'DEBUG': s.DEBUG, 'DEV_MODE': s.DEV_MODE, "
            "'WHITENOISE_USE_FINDERS': s.WHITENOISE_USE_FINDERS, 'WHITENOISE_AUTOREFRESH': s.WHITENOISE_AUTOREFRESH}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                            check=True)
    import ast

    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_the_embedded_mode_keeps_django_debug_off(tmp_path):
    values = embedded_settings(tmp_path)
    assert values == {"DEBUG": False, "DEV_MODE": True, "WHITENOISE_USE_FINDERS": True, "WHITENOISE_AUTOREFRESH": True}
    assert embedded_settings(tmp_path, ICTMS_DEBUG_PAGES="1")["DEBUG"] is True


@pytest.fixture
def embedded(settings, tmp_path):
    values = embedded_settings(tmp_path)
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


def test_an_object_the_user_may_not_see_is_the_products_404(embedded, page_client, world):
    # Participant 102-001 is at another coordinator's site.
    r = page_client(world.coordinator).get(f"/t/TRIAL-A/participants/{world.other_participant.pk}/")
    body = r.content.decode()
    assert r.status_code == 404
    assert "Not found" in body and 'class="topbar"' in body and "/static/css/app.css" in body
    assert not any(text in body for text in TECHNICAL)


def test_an_unknown_address_is_the_products_404_even_for_anonymous_clients(embedded, db):
    r = Client().get("/no-such-page/")
    body = r.content.decode()
    assert r.status_code == 404 and "Not found" in body
    assert not any(text in body for text in TECHNICAL)


def test_a_server_error_is_the_products_500(embedded, world, monkeypatch):
    from trials import views

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "_progress", boom)
    client = Client(raise_request_exception=False)
    client.force_login(world.qc)
    r = client.get("/t/TRIAL-A/")
    body = r.content.decode()
    assert r.status_code == 500 and "Something went wrong" in body and 'class="topbar"' in body
    assert not any(text in body for text in (*TECHNICAL, "a bug", "RuntimeError"))


def test_a_page_the_role_may_not_open_is_the_products_403(embedded, page_client, world):
    r = page_client(world.coordinator).get("/t/TRIAL-A/settings/")
    assert r.status_code == 403 and "Not allowed" in r.content.decode()


def test_static_files_are_served_with_django_debug_off(embedded, db):
    r = Client().get("/static/css/app.css")
    assert r.status_code == 200 and b".topbar" in b"".join(r.streaming_content)
