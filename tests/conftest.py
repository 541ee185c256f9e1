"""Shared fixtures: fast settings, eager Celery, storage in a temp dir, personas, the browser."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path: Path) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    storage = tmp_path / "storage"
    settings.MEDIA_ROOT = storage
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": storage}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.QUARANTINE_DIR = tmp_path / "quarantine"
    settings.UPLOAD_TMP_DIR = tmp_path / "uploads"


@pytest.fixture(autouse=True)
def _eager_celery(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks run in-process unless a test is marked `worker` (then a real worker consumes them)."""
    from ictms.celery import app

    eager = request.node.get_closest_marker("worker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = previous


# --- personas -----------------------------------------------------------------------------------

@dataclass
class World:
    """Two trials. A has sites 101 and 102, B has site 201; a user for each role and an outsider."""

    trial: Any
    other_trial: Any
    site: Any
    other_site: Any
    site_b: Any
    admin: Any
    coordinator: Any  # site 101
    other_coordinator: Any  # site 102
    qc: Any
    reader: Any
    adjudicator: Any
    sponsor: Any
    auditor: Any
    admin_b: Any
    coordinator_b: Any
    outsider: Any
    participant: Any  # trial A, site 101
    other_participant: Any  # trial A, site 102
    participant_b: Any  # trial B
    timepoints: list

    def user(self, name: str) -> Any:
        return getattr(self, name)


@pytest.fixture
def world(db: Any) -> World:
    from tests.trials import factories as f
    from trials.choices import Role

    trial = f.TrialFactory(code="TRIAL-A")
    other_trial = f.TrialFactory(code="TRIAL-B")
    site = f.SiteFactory(trial=trial, number="101", country="DE")
    other_site = f.SiteFactory(trial=trial, number="102", country="FR")
    site_b = f.SiteFactory(trial=other_trial, number="201", country="US")
    timepoints = f.schedule(trial)
    f.schedule(other_trial)
    w = World(
        trial=trial, other_trial=other_trial, site=site, other_site=other_site, site_b=site_b,
        admin=f.member(trial, Role.TRIAL_ADMIN, username="admin_a"),
        coordinator=f.member(trial, Role.SITE_COORDINATOR, site=site, username="coord_101"),
        other_coordinator=f.member(trial, Role.SITE_COORDINATOR, site=other_site, username="coord_102"),
        qc=f.member(trial, Role.QC_ANALYST, username="qc_a"),
        reader=f.member(trial, Role.READER, username="reader_a"),
        adjudicator=f.member(trial, Role.ADJUDICATOR, username="adjudicator_a"),
        sponsor=f.member(trial, Role.SPONSOR, username="sponsor_a"),
        auditor=f.member(trial, Role.AUDITOR, username="auditor_a"),
        admin_b=f.member(other_trial, Role.TRIAL_ADMIN, username="admin_b"),
        coordinator_b=f.member(other_trial, Role.SITE_COORDINATOR, site=site_b, username="coord_201"),
        outsider=f.UserFactory(username="outsider"),
        participant=None, other_participant=None, participant_b=None, timepoints=timepoints,
    )
    w.participant = f.participant(w.coordinator, site, "101-001")
    w.other_participant = f.participant(w.other_coordinator, other_site, "102-001")
    w.participant_b = f.participant(w.coordinator_b, site_b, "201-001")
    return w


@pytest.fixture
def api(world: World):
    """api(user) -> a DRF APIClient authenticated as that user (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def page_client(world: World):
    """page_client(user) -> a Django test Client logged in as that user (None: anonymous)."""
    from django.test import Client

    def make(user: Any = None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


# --- browser --------------------------------------------------------------------------------------

def _browser_missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _browser_missing_reason()
    if reason:
        if os.environ.get("ICTMS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    # No test may reach the internet: anything not served by the live server is refused.
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.url)
                  or route.request.url.startswith("data:") or route.request.url.startswith("blob:") else route.abort())
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def browser_login(page: Any, username: str, password: str = "pw-for-tests-123") -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def tool_missing(name: str) -> bool:
    return shutil.which(name) is None
