"""Every response carries a Content-Security-Policy without inline script (ictms.lib.csp), and no template
needs one: no inline <script> blocks, no on...= event-handler attributes, no style= attributes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
            "frame-ancestors 'none'", "form-action 'self'")


def directives(header: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


def assert_strict(header: str) -> None:
    for required in REQUIRED:
        assert required in header, (required, header)
    policy = directives(header)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert "data:" in policy["img-src"] and "blob:" in policy["img-src"]


@pytest.mark.parametrize("who,url,expected", [
    (None, "/accounts/login/", 200),
    (None, "/t/TRIAL-A/", 302),
    ("coordinator", "/t/TRIAL-A/participants/", 200),
    ("admin", "/t/TRIAL-A/members/", 200),
    ("admin", "/t/TRIAL-A/audit/", 200),
    ("outsider", "/", 200),
    ("outsider", "/t/TRIAL-A/", 404),
    ("qc", "/t/TRIAL-A/settings/", 403),
])
def test_pages_send_the_policy(world, page_client, who, url, expected):
    r = page_client(world.user(who) if who else None).get(url)
    assert r.status_code == expected
    assert_strict(r["Content-Security-Policy"])


def test_api_responses_send_it_too(world, api):
    assert_strict(api(world.admin).get("/api/trials/")["Content-Security-Policy"])
    assert_strict(api().get("/api/trials/")["Content-Security-Policy"])


def test_the_api_docs_page_loads_no_inline_script(world, page_client):
    r = page_client(world.admin).get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script on the docs page"
    policy = directives(r["Content-Security-Policy"])
    assert policy["script-src"] == "'self'" and "'unsafe-inline'" in policy["style-src"]
    script = page_client(world.admin).get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def template_files() -> list[Path]:
    return sorted(p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE | re.DOTALL)
JS_URL = re.compile(r"""href\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def test_the_template_scan_finds_what_it_looks_for():
    bad = '<script>alert(1)</script><select onchange="go()"><span style="width: 3%"><a href="javascript:x">'
    assert INLINE_SCRIPT.search(bad) and HANDLER.search(bad) and STYLE_ATTR.search(bad) and JS_URL.search(bad)
    good = '<script src="/static/js/a.js"></script><select data-autosubmit><span data-width="3" class="bar">'
    assert not (INLINE_SCRIPT.search(good) or HANDLER.search(good) or STYLE_ATTR.search(good))


def test_no_template_has_inline_script_handlers_or_styles():
    files = template_files()
    assert len(files) > 30
    found = []
    for path in files:
        text = path.read_text()
        for name, pattern in (("inline <script>", INLINE_SCRIPT), ("on...= handler", HANDLER),
                              ("style= attribute", STYLE_ATTR), ("javascript: URL", JS_URL)):
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(ROOT)}: {name}: {match.group(0)[:80]!r}")
    assert not found, "\n".join(found)
