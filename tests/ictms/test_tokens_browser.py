"""The API token page works from the keyboard alone, under the Content-Security-Policy."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective));
"""


def tab_to(page, text: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_issue_copy_and_revoke_a_token_with_the_keyboard(world, strict_page):
    page = strict_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(LISTEN)
    browser_login(page, "qc_a")
    page.goto("/accounts/token/")
    assert "You have no API token" in page.inner_text("#token-status")

    tab_to(page, "Issue a new token")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    key = Token.objects.get(user=world.qc).key
    assert page.input_value("#new-token-key") == key

    tab_to(page, "Copy")
    page.keyboard.press("Enter")
    # Copied where the browser grants the clipboard, else selected for Ctrl+C: either is said.
    expect(page.locator("[data-copy-status]")).to_have_text(re.compile(r"^(Copied\.|Selected: press Ctrl\+C)"))
    # Either way the key is selected in its field, ready for Ctrl+C.
    selected = page.evaluate("(() => { const i = document.getElementById('new-token-key');"
                             " return [i.selectionStart, i.selectionEnd]; })()")
    assert selected == [0, len(key)]

    page.goto("/accounts/token/")
    assert key not in page.content()
    tab_to(page, "Revoke")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "revoked" in page.inner_text(".messages")
    assert not Token.objects.filter(user=world.qc).exists()
    assert page.evaluate("window.__cspViolations") == [] and not errors
