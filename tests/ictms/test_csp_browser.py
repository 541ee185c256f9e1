"""The main pages of every role work under the Content-Security-Policy (issue #19).

Chromium reports every blocked inline script, inline style, event-handler attribute or foreign
resource as a `securitypolicyviolation` event (and a console message). The walk opens the pages
each role works on (login, home, trial, visit, upload, QC review, viewer, reading, adjudication,
sponsor dashboard, audit), waits for their scripts to settle and asserts that nothing was
blocked and no script failed. A first check proves the listener sees a violation at all.
It uses `strict_page` (the other browser tests' `page` bypasses the policy: see tests/conftest.py).
"""
from __future__ import annotations

import pytest

from imaging.intake.services import submission_open
from reads.models import Adjudication, ReadTask
from tests.conftest import browser_login
from tests.reads.factories import imaged_case
from tests.reads.test_adjudication import _read
from tests.trials import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watch:
    """Collects what the browser says about each page: policy violations, CSP console messages, script errors."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(LISTEN)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: script error {error}"))

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.problems.append(f"{self.page.url}: console {message.type}: {message.text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert "script-src 'self'" in response.headers.get("content-security-policy", ""), path
        self.page.wait_for_load_state("load")
        self.page.wait_for_load_state("networkidle")
        self.settle()

    def settle(self) -> None:
        for violation in self.page.evaluate("window.__cspViolations || []"):
            self.problems.append(f"{self.page.url}: {violation}")

    def login(self, username: str) -> None:
        self.page.context.clear_cookies()
        browser_login(self.page, username)
        self.settle()


def test_the_listener_sees_an_inline_script_being_blocked(strict_page):
    page = strict_page
    watch = Watch(page)
    watch.visit("/accounts/login/")
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.__ran = 1";
                     document.body.append(s); }""")
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran") is None
    watch.settle()
    assert any("script-src" in problem for problem in watch.problems), watch.problems


def test_every_roles_main_pages_raise_no_policy_violation(strict_page, world):
    page = strict_page
    case = imaged_case(world, ("BL", "W8", "W16"))
    _read(world, case, world.reader, 20)  # PR
    _read(world, case, world.reader2, 41, new="unequivocal")  # PD: an adjudication opens
    adjudication = Adjudication.objects.get(case=case)
    baseline = case.participant.visits.get(timepoint__code="BL")
    task = ReadTask.objects.get(assignment__case=case, assignment__reader=world.reader, visit__timepoint__code="W16")
    upload_visit = f.visit(f.participant(world.coordinator, world.site, "101-002"), "BL")
    submission = submission_open(actor=world.coordinator, visit=upload_visit, comment="")

    watch = Watch(page)
    watch.visit("/accounts/login/")
    walks = {
        "coord_101": ["/", "/t/TRIAL-A/participants/", f"/t/TRIAL-A/participants/{world.participant.pk}/",
                      "/t/TRIAL-A/visits/", f"/t/TRIAL-A/visits/{baseline.pk}/",
                      f"/t/TRIAL-A/visits/{upload_visit.pk}/submit/", f"/t/TRIAL-A/submissions/{submission.pk}/",
                      "/t/TRIAL-A/queries/"],
        "qc_a": ["/t/TRIAL-A/", "/t/TRIAL-A/qc/", f"/t/TRIAL-A/qc/visits/{baseline.pk}/", "/t/TRIAL-A/qc/dashboard/",
                 f"/t/TRIAL-A/viewer/visits/{baseline.pk}/",
                 f"/t/TRIAL-A/viewer/participants/{world.participant.pk}/"],
        "reader_a": ["/t/TRIAL-A/reads/worklist/", f"/t/TRIAL-A/reads/tasks/{task.pk}/"],
        "adjudicator_a": ["/t/TRIAL-A/reads/adjudications/", f"/t/TRIAL-A/reads/adjudications/{adjudication.pk}/"],
        "sponsor_a": ["/t/TRIAL-A/reads/dashboard/"],
        "auditor_a": ["/t/TRIAL-A/", "/t/TRIAL-A/audit/"],
        "admin_a": ["/t/TRIAL-A/", "/t/TRIAL-A/members/", "/t/TRIAL-A/settings/", "/t/TRIAL-A/reads/results/",
                    "/t/TRIAL-A/visits/"],
    }
    for username, paths in walks.items():
        watch.login(username)
        for path in paths:
            watch.visit(path)
    assert not watch.problems, "\n".join(watch.problems)
    # The site filter submits itself on change (it was an inline onchange= handler).
    page.select_option("select[data-autosubmit]", "101")
    page.wait_for_url("**/visits/?site=101")
    page.wait_for_load_state("load")
    watch.settle()
    assert not watch.problems, "\n".join(watch.problems)
