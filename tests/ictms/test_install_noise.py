"""Installing and starting the embedded mode prints nothing but what the user needs (issue #17 item 15)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_licence_is_an_spdx_string_and_the_build_backend_understands_it():
    # A licence table or classifier makes setuptools >= 77 print its deprecation box on every `pip install -e .`.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read PEP 639 licence strings


def test_the_embedded_broker_names_its_host(tmp_path):
    drop = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in drop} | {"ICTMS_VAR_DIR": str(tmp_path)}
    code = ("import logging, django; logging.basicConfig(level=logging.INFO); django.setup();"
            "from ictms.celery import app; conn = app.connection_for_write(); conn.info(); print(conn.as_uri())")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
                            env=env | {"DJANGO_SETTINGS_MODULE": "ictms.settings"})
    assert "No hostname was supplied" not in result.stderr + result.stdout
    assert "@localhost" in result.stdout.strip().splitlines()[-1]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_seed_demo_keeps_celery_task_lines_out_of_its_output(db, monkeypatch, settings):
    from ictms.celery import app
    from ictms.management.commands import seed_demo as command
    from trials.models import Trial

    @app.task(name="tests.install_noise.noop")
    def noop() -> str:
        return "done"

    def fake_seed(**kwargs):
        noop.delay()  # eager, as every task of the demo
        return Trial(code="DEMO-ONC-301")

    monkeypatch.setattr(command, "seed_demo", fake_seed)
    records = Records()
    trace = logging.getLogger("celery.app.trace")
    trace.addHandler(records)
    try:
        noop.delay()
        assert any("succeeded" in line for line in records.lines)  # Celery does log the task outside seed_demo
        records.lines.clear()
        with open(os.devnull, "w") as out:
            call_command("seed_demo", stdout=out)
        assert records.lines == []
        assert trace.getEffectiveLevel() <= logging.INFO  # restored afterwards
    finally:
        trace.removeHandler(records)
