"""The image's collectstatic runs in production mode, so the manifest the production storage reads exists."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_dockerfile_collects_static_files_as_production_serves_them(tmp_path):
    line = next(x for x in (ROOT / "Dockerfile").read_text().splitlines() if "collectstatic" in x)
    assert "DEBUG=0" in line, line
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "build-only", "ICTMS_STATIC_ROOT": str(tmp_path / "static"),
           "ICTMS_VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    assert (tmp_path / "static" / "staticfiles.json").exists()
