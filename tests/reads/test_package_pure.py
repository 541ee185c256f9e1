"""The metrics and package modules are pure: no Django import, directly (ast) or indirectly (a fresh interpreter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [ROOT / "reads" / "metrics.py", *sorted((ROOT / "reads" / "package").glob("*.py"))]
# Project modules a pure module may import: the other pure engines, nothing with models or services.
ALLOWED_PROJECT = ("reads.recist", "reads.metrics", "reads.package")
PROJECT_ROOTS = ("reads", "imaging", "trials", "audit", "ictms")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = "reads.package" if path.parent.name == "package" else "reads"
                names.append(f"{package}.{node.module or ''}".rstrip("."))
            else:
                names.append(node.module or "")
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_pure_module_imports_neither_django_nor_a_django_app_module(path):
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in ("django", "rest_framework", "celery", "guardian", "simple_history"), f"{path.name} imports {name}"
        if top in PROJECT_ROOTS:
            assert name.startswith(ALLOWED_PROJECT), f"{path.name} imports {name}"


def test_the_ast_check_catches_a_django_import(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from django.db import models\n    return models\n")
    assert "django.db" in _imports(sneaky)


def test_importing_every_pure_module_loads_no_django():
    modules = ["reads.metrics"] + [f"reads.package.{p.stem}" for p in PURE if p.parent.name == "package" and p.stem != "__init__"]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint(sorted(k for k in sys.modules if k.split('.')[0] == 'django'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
