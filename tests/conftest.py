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
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": storage, "allow_overwrite": True}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.QUARANTINE_DIR = tmp_path / "quarantine"
    settings.UPLOAD_TMP_DIR = tmp_path / "uploads"
    settings.UPLOAD_TMP_DIR.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(settings.UPLOAD_TMP_DIR)
    # Each test's audit checkpoints (audit.checkpoint) start empty, as its database does.
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.log"


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
    return build_world()


def build_world() -> World:
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


def _committing(client_class: type) -> type:
    """A test client whose requests end like real ones: on_commit callbacks (task dispatch) run.

    Tests run inside one transaction that never commits, so without this the work a request
    hands to Celery after commit would never start.
    """
    from django.test import TestCase

    class CommittingClient(client_class):  # type: ignore[misc, valid-type]
        def request(self, **request: Any) -> Any:
            with TestCase.captureOnCommitCallbacks(execute=True):
                return super().request(**request)

    return CommittingClient


@pytest.fixture
def api(world: World):
    """api(user) -> a DRF APIClient authenticated as that user (None: anonymous)."""
    from rest_framework.test import APIClient

    klass = _committing(APIClient)

    def make(user: Any = None) -> APIClient:
        client = klass()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def page_client(world: World):
    """page_client(user) -> a Django test Client logged in as that user (None: anonymous)."""
    from django.test import Client

    klass = _committing(Client)

    def make(user: Any = None) -> Client:
        client = klass()
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


# How long a browser step, and an auto-waiting assertion (`expect(...)`), waits before failing.
# Generous because the suite runs on 2 busy cores; a passing assertion returns as soon as it holds.
BROWSER_TIMEOUT_MS = 15000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _browser_missing_reason()
    if reason:
        if os.environ.get("ICTMS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    yield from _page(browser, live_server, bypass_csp=True)


@pytest.fixture
def strict_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A page that obeys the server's Content-Security-Policy (tests/ictms/test_csp_browser.py).

    `page` bypasses it: Playwright's string predicates (`wait_for_function("...")`) are evaluated
    with `new Function` inside the page, which a policy without 'unsafe-eval' refuses.
    """
    yield from _page(browser, live_server, bypass_csp=False)


def _page(browser: Any, live_server: Any, *, bypass_csp: bool) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900},
                                  bypass_csp=bypass_csp)
    # No test may reach the internet: anything not served by the live server is refused.
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.url)
                  or route.request.url.startswith("data:") or route.request.url.startswith("blob:") else route.abort())
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield page
    context.close()


def browser_login(page: Any, username: str, password: str = "pw-for-tests-123") -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():  # to the role's home page
        page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def tool_missing(name: str) -> bool:
    return shutil.which(name) is None


# --- a real Celery worker -------------------------------------------------------------------------

class WorkerProcess:
    """A `celery worker` subprocess on the test database and a private queue."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: Any = None

    def start(self, **extra_env: str) -> None:
        import subprocess
        import sys

        log = open(self.log_path, "ab")  # noqa: SIM115  (the worker writes to it until stop() closes it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ictms", "worker", "--pool=prefork", "--concurrency=2",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", self.env["CELERY_QUEUE"]],
            cwd=Path(__file__).resolve().parents[1], env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as the OOM killer or a power cut would."""
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except Exception:  # a stuck worker is killed
                self.kill()


@pytest.fixture
def celery_worker_process(transactional_db: Any, settings: Any, tmp_path: Path) -> Iterator[WorkerProcess]:
    """Start a real worker against Redis and the test's PostgreSQL database.

    Skips (locally) without REDIS_URL or PostgreSQL; .ci/run sets ICTMS_REQUIRE_WORKER=1, and
    then a missing service is a failure.
    """
    import uuid

    from django.db import connection

    from ictms.celery import app

    reason = None
    if not os.environ.get("REDIS_URL"):
        reason = "needs REDIS_URL (a real Redis broker); .ci/run sets it"
    elif connection.vendor != "postgresql":
        reason = "needs DATABASE_URL on PostgreSQL so the worker process sees the test database"
    if reason:
        if os.environ.get("ICTMS_REQUIRE_WORKER") == "1":
            pytest.fail(f"worker tests are required here but: {reason}")
        pytest.skip(reason)
    db = connection.settings_dict
    queue = f"ictms-test-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_QUEUE": queue,
        "ICTMS_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ICTMS_QUARANTINE_DIR": str(settings.QUARANTINE_DIR),
        "ICTMS_UPLOAD_TMP_DIR": str(settings.UPLOAD_TMP_DIR),
        "ICTMS_VAR_DIR": str(tmp_path / "worker-var"),
        # The worker's audit events are hashed with the same key and checkpointed in the same file.
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "AUDIT_CHECKPOINT_FILE": str(settings.AUDIT_CHECKPOINT_FILE),
        "CELERY_VISIBILITY_TIMEOUT": "4",
    }
    s3 = settings.STORAGES["default"]
    if s3["BACKEND"] == "storages.backends.s3.S3Storage":  # the s3_storage fixture: the worker uses the same bucket
        options = s3["OPTIONS"]
        env.update({"AWS_STORAGE_BUCKET_NAME": options["bucket_name"], "AWS_S3_ENDPOINT_URL": options["endpoint_url"],
                    "AWS_S3_REGION_NAME": options["region_name"], "AWS_ACCESS_KEY_ID": options["access_key"],
                    "AWS_SECRET_ACCESS_KEY": options["secret_key"]})
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_default_queue = previous
        print((tmp_path / "worker.log").read_text(errors="replace")[-4000:])


# --- object storage -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto's standalone S3 server on a loopback port (tests/s3.py), one per session and xdist worker."""
    from tests.s3 import S3Server

    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_storage(settings: Any, s3_server: Any) -> Any:
    """Default storage on a fresh bucket of the S3 server (request it before fixtures that store files)."""
    bucket = s3_server.bucket()
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage()}
    return bucket


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.2) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")
