"""The import graph keeps its layers: lower layers import and test alone.

ictms/lib imports no app; trials imports neither imaging nor reads; audit's core (models,
services, the chain, transitions) imports no app; imaging does not import reads; the pure
engines import neither Django nor an app; no product module imports the tests; pages and
template tags do not import an API module (what both need lives in selectors).
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("ictms", "trials", "imaging", "reads", "audit")
PURE = ("imaging.deid", "imaging.qc.rules", "imaging.viewer.render", "imaging.viewer.geometry", "reads.recist",
        "reads.metrics", "reads.package", "ictms.phantom")
AUDIT_CORE = ("audit.models", "audit.services", "audit.chain", "audit.transitions", "audit.actions")


def _modules() -> Iterator[tuple[str, Path]]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


GRAPH = {module: _imports(path) for module, path in _modules()}


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _top(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


RULES = {
    "ictms/lib imports no app": (
        lambda m: _within(m, ("ictms.lib",)), lambda d: _top(d) in ("trials", "imaging", "reads", "audit")),
    "trials imports neither imaging nor reads (nor the project's demo)": (
        lambda m: _within(m, ("trials",)),
        lambda d: _top(d) in ("imaging", "reads") or (_top(d) == "ictms" and not _within(d, ("ictms.lib",)))),
    "audit's core imports no app": (
        lambda m: _within(m, AUDIT_CORE), lambda d: _top(d) in ("trials", "imaging", "reads")),
    "imaging does not import reads": (lambda m: _within(m, ("imaging",)), lambda d: _top(d) == "reads"),
    "pure engines import neither Django nor an app": (
        lambda m: _within(m, PURE),
        lambda d: _top(d) in ("django", "rest_framework", "trials", "audit", "tests")
        or (_top(d) in ("imaging", "reads", "ictms") and not _within(d, PURE))),
    "no product module imports the tests": (lambda m: True, lambda d: _top(d) == "tests"),
    "pages and template tags import no API module": (
        lambda m: (m.endswith((".views", ".pages")) or ".templatetags." in m) and ".api." not in m,
        lambda d: d.endswith((".api", "_api")) or ".api." in d),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_the_layers_hold(rule: str) -> None:
    source, forbidden = RULES[rule]
    broken = sorted(f"{m} imports {d}" for m, deps in GRAPH.items() if source(m) for d in deps if forbidden(d))
    assert not broken, f"{rule}:\n" + "\n".join(broken)


def test_the_graph_sees_the_modules_the_rules_speak_of() -> None:
    # A rule over modules that do not exist would pass for ever.
    for prefix in ("ictms.lib", "trials", "audit.services", "imaging.intake.services", "imaging.qc.rules",
                   "imaging.deid.engine", "reads.recist", "imaging.templatetags.imaging_tags", "imaging.qc.views"):
        assert any(_within(m, (prefix,)) for m in GRAPH), prefix
