"""The reads pages: read design and reader assignment (trial admin), the reader's worklist and task page,
the adjudicator's list. Who may open them, what they show (and never show), writes through the services,
and a constant number of queries whatever the number of cases."""
from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.transitions import transition
from reads.choices import READ_TASK_MACHINE, ReadTaskState
from reads.models import ReadAssignment, ReadCase, ReadDesign, ReadTask
from tests.reads.factories import accept, double_read, read_pool
from tests.trials import factories as f

pytestmark = pytest.mark.django_db

ISO_DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def blinded_text(response) -> str:
    """The page without its CSRF tokens (random letters and digits that could spell anything)."""
    return CSRF.sub("", response.content.decode())


def _case(world, slot_reader: str = "reader_a") -> tuple[ReadCase, ReadTask]:
    """A double read with participant 101-001's baseline accepted: reader_a's baseline task is ready."""
    double_read(world)
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    case = ReadCase.objects.get(participant=world.participant)
    task = ReadTask.objects.get(assignment__case=case, assignment__reader__username=slot_reader,
                                visit__timepoint__code="BL")
    return case, task


def _sign(task: ReadTask, reader) -> None:
    transition(READ_TASK_MACHINE, task, ReadTaskState.IN_PROGRESS, actor=reader, trial=task.assignment.case.trial)
    transition(READ_TASK_MACHINE, task, ReadTaskState.SIGNED, actor=reader, trial=task.assignment.case.trial)


def _status(page_client, world, persona, url) -> int:
    return page_client(world.user(persona) if persona else None).get(url).status_code


def config_of(response) -> dict:
    html = response.content.decode()
    tag = '<script id="viewer-config" type="application/json">'
    start = html.index(tag) + len(tag)
    return json.loads(html[start: html.index("</script>", start)])


# --- permissions ---------------------------------------------------------------------------------------

ADMIN_ONLY = {"admin": 200, "reader": 403, "adjudicator": 403, "qc": 403, "sponsor": 403, "coordinator": 403,
              "auditor": 403, "admin_b": 404, "outsider": 404, None: 302}


@pytest.mark.parametrize("path", ["design/", "assignment/"])
@pytest.mark.parametrize("persona", list(ADMIN_ONLY))
def test_design_and_assignment_are_for_the_trial_admin(page_client, world, path, persona):
    _case(world)
    response = page_client(world.user(persona) if persona else None).get(f"/t/TRIAL-A/reads/{path}")
    assert response.status_code == ADMIN_ONLY[persona]
    if persona is None:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona,status", [
    ("reader", 200), ("reader2", 200), ("adjudicator", 403), ("admin", 403), ("qc", 403), ("sponsor", 403),
    ("coordinator", 403), ("admin_b", 404), (None, 302),
])
def test_the_worklist_is_for_readers(page_client, world, persona, status):
    _case(world)
    assert _status(page_client, world, persona, "/t/TRIAL-A/reads/worklist/") == status


@pytest.mark.parametrize("persona,status", [
    ("adjudicator", 200), ("reader", 403), ("admin", 403), ("qc", 403), ("sponsor", 403), ("coordinator", 403),
    ("admin_b", 404), (None, 302),
])
def test_the_adjudication_list_is_for_adjudicators(page_client, world, persona, status):
    assert _status(page_client, world, persona, "/t/TRIAL-A/reads/adjudications/") == status


@pytest.mark.parametrize("persona,status", [
    ("reader", 200), ("reader2", 404), ("admin", 404), ("adjudicator", 404), ("qc", 404), ("sponsor", 404),
    ("coordinator", 404), ("auditor", 404), ("admin_b", 404), ("outsider", 404), (None, 302),
])
def test_a_task_opens_for_its_own_reader_only(page_client, world, persona, status):
    _, task = _case(world)
    assert _status(page_client, world, persona, f"/t/TRIAL-A/reads/tasks/{task.pk}/") == status


def test_a_task_is_not_found_under_another_trials_url(page_client, world):
    _, task = _case(world)
    f.member(world.other_trial, "reader", user=world.reader)
    assert page_client(world.reader).get(f"/t/TRIAL-B/reads/tasks/{task.pk}/").status_code == 404


@pytest.mark.parametrize("persona", ["reader", "qc", "sponsor", "coordinator", "admin_b", None])
def test_only_the_admin_reassigns(page_client, world, persona):
    case, _task = _case(world)
    before = list(case.assignments.values_list("slot", "reader__username"))
    response = page_client(world.user(persona) if persona else None).post(
        f"/t/TRIAL-A/reads/cases/{case.pk}/reassign/",
        {f"case-{case.pk}-from": "reader_a", f"case-{case.pk}-to": "reader_b", f"case-{case.pk}-reason": "x"})
    assert response.status_code in (302, 403, 404)
    if persona is not None:
        assert response.status_code == (404 if persona == "admin_b" else 403)
    assert list(case.assignments.values_list("slot", "reader__username")) == before


def test_readers_and_adjudicators_land_on_their_reads_pages(page_client, world):
    assert page_client(world.reader).get("/t/TRIAL-A/")["Location"] == "/t/TRIAL-A/reads/worklist/"
    assert page_client(world.adjudicator).get("/t/TRIAL-A/")["Location"] == "/t/TRIAL-A/reads/adjudications/"


def test_the_admin_finds_the_reads_pages_from_home_and_the_navigation(page_client, world):
    body = page_client(world.admin).get("/t/TRIAL-A/").content.decode()
    assert 'href="/t/TRIAL-A/reads/design/"' in body and 'href="/t/TRIAL-A/reads/assignment/"' in body
    nav = page_client(world.admin).get("/t/TRIAL-A/members/").content.decode()
    assert ">Read design</a>" in nav
    assert ">Read design</a>" not in page_client(world.qc).get("/t/TRIAL-A/schedule/").content.decode()


# --- the read design form ------------------------------------------------------------------------------

def _design_post(**overrides):
    data = {"paradigm": "double", "triggers": ["best_response", "progression"], "readers": ["reader_a", "reader_b"],
            "adjudicators": ["adjudicator_a"], "confirmation_min_weeks": "4", "sd_min_weeks": "6",
            "visit_window_weeks": "0", "reported_read": "1", "stop_after_progression": "on", "reason": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_design_form_explains_each_option_and_lists_the_pools(page_client, world):
    read_pool(world)
    body = page_client(world.admin).get("/t/TRIAL-A/reads/design/").content.decode()
    for text in ("Paradigm", "Best overall response differs", "raises", "Reader pool", "Adjudicator pool",
                 "confirms it", "minimum SD duration", "visit window", "not read once the reader has found progression",
                 "final result", "another trial admin approves", "Reason for the change"):
        assert text.lower() in body.lower(), text
    assert 'value="reader_a"' in body and 'value="reader_b"' in body and 'value="adjudicator_a"' in body
    assert 'value="qc_a"' not in body  # only members with the reader / adjudicator roles
    assert 'for="id_readers_0"' in body and 'id="id_readers_0"' in body  # every checkbox has its label


def test_the_design_form_saves_through_the_service(page_client, world):
    read_pool(world)
    client = page_client(world.admin)
    response = client.post("/t/TRIAL-A/reads/design/", _design_post(
        triggers=["best_response", "progression", "first_response"], confirmation_required="on", sd_min_weeks="8"))
    assert response.status_code == 302 and response["Location"] == "/t/TRIAL-A/reads/design/"
    design = ReadDesign.objects.get(trial=world.trial)
    assert design.paradigm == "double" and design.triggers == ["best_response", "progression", "first_response"]
    assert sorted(u.username for u in design.readers.all()) == ["reader_a", "reader_b"]
    assert [u.username for u in design.adjudicators.all()] == ["adjudicator_a"]
    assert design.confirmation_required and design.sd_min_weeks == 8 and not design.reopen_needs_approval
    page = client.get("/t/TRIAL-A/reads/design/").content.decode()
    assert "Read design saved (version 1)." in page
    assert re.search(r'value="first_response"[^>]*checked', page)
    assert re.search(r'<input type="checkbox" name="readers" value="reader_b"[^>]*checked', page)


def test_the_design_form_shows_the_services_errors_at_their_fields(page_client, world):
    read_pool(world)
    client = page_client(world.admin)
    response = client.post("/t/TRIAL-A/reads/design/", _design_post(readers=["reader_a"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "not saved" in body
    assert re.search(r'id="id_readers_error">\s*<p>A double read needs at least 2 reader', body)
    assert not ReadDesign.objects.exists()

    response = client.post("/t/TRIAL-A/reads/design/", _design_post(visit_window_weeks="9"))
    assert re.search(r'id="id_visit_window_weeks_error"><p>[^<]*less than or equal to 8', response.content.decode())
    assert not ReadDesign.objects.exists()

    response = client.post("/t/TRIAL-A/reads/design/", _design_post(adjudicators=[]))
    assert 'id="id_adjudicators_error"' in response.content.decode()


def test_a_trial_that_does_not_blind_readers_is_told_so(page_client, world):
    read_pool(world)
    world.trial.blind_readers = False
    world.trial.save()
    body = page_client(world.admin).post("/t/TRIAL-A/reads/design/", _design_post()).content.decode()
    assert 'id="id_paradigm_error"' in body and "blind readers" in body
    assert not ReadDesign.objects.exists()


def test_a_change_after_a_signature_needs_a_reason(page_client, world):
    _, task = _case(world)
    _sign(task, world.reader)
    client = page_client(world.admin)
    page = client.get("/t/TRIAL-A/reads/design/").content.decode()
    assert "Reason for the change (required)" in page
    response = client.post("/t/TRIAL-A/reads/design/", _design_post(triggers=["best_response"]))
    assert re.search(r'id="id_reason_error"><p>Reads have been signed', response.content.decode())
    assert ReadDesign.objects.get().version == 1
    response = client.post("/t/TRIAL-A/reads/design/", _design_post(triggers=["best_response"],
                                                                    reason="Charter amendment 2"))
    assert response.status_code == 302
    assert ReadDesign.objects.get().version == 2


# --- the assignment page and reassignment ----------------------------------------------------------------

def test_the_assignment_page_shows_cases_readers_states_and_loads(page_client, world):
    case, _task = _case(world)
    body = page_client(world.admin).get("/t/TRIAL-A/reads/assignment/").content.decode()
    assert case.code in body and "101-001" in body  # the admin is unblinded: code next to subject code
    row = re.search(rf'<tr id="case-{case.pk}".*?</tr>', body, re.DOTALL).group(0)
    assert "reader_a" in row and "reader_b" in row and "BL" in row and "Ready" in row and "Waiting" in row
    loads = re.search(r'<table class="table narrow-table" id="reader-loads">.*?</table>', body, re.DOTALL).group(0)
    assert re.search(r'data-reader="reader_a"><th scope="row">reader_a</th><td>1</td><td>0</td>', loads)


def test_the_assignment_page_says_when_there_is_no_design(page_client, world):
    body = page_client(world.admin).get("/t/TRIAL-A/reads/assignment/").content.decode()
    assert "No read design yet" in body


def _reassign(client, case, **data):
    return client.post(f"/t/TRIAL-A/reads/cases/{case.pk}/reassign/",
                       {f"case-{case.pk}-{k}": v for k, v in data.items()})


def test_the_admin_reassigns_a_case_through_the_page(page_client, world):
    f.member(world.trial, "reader", username="reader_c")
    double_read(world, readers=["reader_a", "reader_b", "reader_c"])
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    case = ReadCase.objects.get()
    slots = dict(case.assignments.values_list("reader__username", "slot"))
    busy = min(slots)
    free = ({"reader_a", "reader_b", "reader_c"} - set(slots)).pop()
    client = page_client(world.admin)
    response = _reassign(client, case, **{"from": busy, "to": free, "reason": "Reader on leave"})
    assert response.status_code == 302 and response["Location"] == f"/t/TRIAL-A/reads/assignment/#case-{case.pk}"
    assert ReadAssignment.objects.get(case=case, slot=slots[busy]).reader.username == free
    page = client.get("/t/TRIAL-A/reads/assignment/").content.decode()
    assert f"Case {case.code}: Reader {slots[busy]} is now {free} (was {busy})." in page


def test_reassignment_errors_are_shown_in_the_cases_row(page_client, world):
    case, task = _case(world)
    f.member(world.trial, "reader", username="reader_c")
    double_read(world, readers=["reader_a", "reader_b", "reader_c"])
    client = page_client(world.admin)

    response = _reassign(client, case, **{"from": "reader_a", "to": "reader_b", "reason": "swap"})
    body = response.content.decode()
    assert response.status_code == 200 and f"Case {case.code} was not reassigned" in body
    row = re.search(rf'<tr id="case-{case.pk}" data-case="{case.code}" class="has-error">.*?</tr>', body, re.DOTALL).group(0)
    assert "reader_b already reads case" in row and "must differ" in row

    row = re.search(rf'<tr id="case-{case.pk}".*?</tr>',
                    _reassign(client, case, **{"from": "reader_a", "to": "reader_c", "reason": ""}).content.decode(),
                    re.DOTALL).group(0)
    assert f'id="id_case-{case.pk}-reason_error"' in row

    _sign(task, world.reader)
    body = _reassign(client, case, **{"from": "reader_a", "to": "reader_c", "reason": "leave"}).content.decode()
    assert "reader_a has signed a timepoint of case" in body
    assert ReadAssignment.objects.get(case=case, reader__username="reader_a")


def test_a_get_on_the_reassign_url_goes_back_to_the_assignment(page_client, world):
    case, _task = _case(world)
    response = page_client(world.admin).get(f"/t/TRIAL-A/reads/cases/{case.pk}/reassign/")
    assert response.status_code == 302 and response["Location"] == "/t/TRIAL-A/reads/assignment/"


def test_a_case_of_another_trial_is_not_found(page_client, world):
    case, _task = _case(world)
    assert _reassign(page_client(world.admin_b), case, **{"from": "reader_a", "to": "reader_b", "reason": "x"}
                     ).status_code == 404


# --- the worklist and the task page ------------------------------------------------------------------

def test_the_worklist_shows_codes_labels_days_states_progress_and_next(page_client, world):
    case, task = _case(world)
    body = blinded_text(page_client(world.reader).get("/t/TRIAL-A/reads/worklist/"))
    assert f"Case {case.code}" in body and "0 of 3 timepoints signed" in body and "0 of 3 signed" in body
    assert re.search(rf'id="next" href="/t/TRIAL-A/reads/tasks/{task.pk}/"', body)
    for label in ("Baseline", "Week 8", "Week 16"):
        assert label in body
    assert re.search(r'data-state="ready">\s*<th scope="row"><a href="[^"]+">Baseline</a></th>\s*<td>0</td>', body)
    for hidden in ("101-001", "102-001", world.site.name, world.site.number, world.site.ae_title):
        assert hidden not in body, hidden
    assert not ISO_DATE.search(body)


def test_the_worklist_follows_the_readers_own_order_and_counts_signatures(page_client, world):
    double_read(world)
    for i in range(2, 5):
        accept(f.visit(f.participant(world.coordinator, world.site, f"101-00{i}"), "BL"), actor=world.qc)
    accept(f.visit(world.participant, "BL"), actor=world.qc)
    order = list(ReadAssignment.objects.filter(reader=world.reader).order_by("order_key")
                 .values_list("case__code", flat=True))
    first = ReadTask.objects.get(assignment__reader=world.reader, assignment__case__code=order[0], sequence=0)
    _sign(first, world.reader)
    body = page_client(world.reader).get("/t/TRIAL-A/reads/worklist/").content.decode()
    assert re.findall(r'data-case="(C-[0-9A-Z]+)"', body) == order
    total = ReadTask.objects.filter(assignment__reader=world.reader).count()
    assert f"1 of {total} timepoints signed" in body
    second = ReadTask.objects.get(assignment__reader=world.reader, assignment__case__code=order[1], sequence=0)
    assert re.search(rf'id="next" href="/t/TRIAL-A/reads/tasks/{second.pk}/"', body)


def test_a_reader_without_tasks_sees_an_empty_worklist(page_client, world):
    body = page_client(world.reader).get("/t/TRIAL-A/reads/worklist/").content.decode()
    assert "Nothing to do yet" in body and 'id="next"' not in body


def test_the_adjudication_list_has_a_clear_empty_state(page_client, world):
    _case(world)
    body = page_client(world.adjudicator).get("/t/TRIAL-A/reads/adjudications/").content.decode()
    assert 'id="no-adjudications"' in body and "Nothing to do yet" in body
    assert "101-001" not in body


def test_an_open_task_shows_the_viewer_with_its_timepoint_and_no_subject(page_client, world):
    case, task = _case(world)
    response = page_client(world.reader).get(f"/t/TRIAL-A/reads/tasks/{task.pk}/")
    body = response.content.decode()
    config = config_of(response)
    bl = f.visit(world.participant, "BL")
    assert config["visits"] == [{"id": bl.pk, "code": "BL", "label": "Baseline", "baseline": True}]
    # The reader measures on the images of the timepoint they are reading.
    assert config["compare"] is False and config["participant"] is None and config["canMeasure"] is True
    assert f'<h1 class="vw-title">{case.code}' in body and "Baseline · day 0 · Ready" in body
    assert f"<title>Viewer · {case.code} Baseline · TRIAL-A · ICTMS</title>" in body
    assert 'href="/t/TRIAL-A/reads/worklist/">Worklist</a>' in body
    for hidden in ("101-001", world.site.name):
        assert hidden not in body


def test_a_later_task_compares_with_the_earlier_timepoints(page_client, world):
    _, task = _case(world)
    _sign(task, world.reader)
    accept(f.visit(world.participant, "W8"), actor=world.qc)
    w8 = ReadTask.objects.get(assignment=task.assignment, visit__timepoint__code="W8")
    assert w8.state == ReadTaskState.READY
    config = config_of(page_client(world.reader).get(f"/t/TRIAL-A/reads/tasks/{w8.pk}/"))
    assert [v["code"] for v in config["visits"]] == ["BL", "W8"] and config["compare"] is True
    # The baseline task (signed) opens alone: never a later timepoint.
    config = config_of(page_client(world.reader).get(f"/t/TRIAL-A/reads/tasks/{task.pk}/"))
    assert [v["code"] for v in config["visits"]] == ["BL"] and config["canMeasure"] is False


def test_a_waiting_task_says_why_and_shows_no_images(page_client, world):
    _, task = _case(world)
    w8 = ReadTask.objects.get(assignment=task.assignment, visit__timepoint__code="W8")
    body = page_client(world.reader).get(f"/t/TRIAL-A/reads/tasks/{w8.pk}/").content.decode()
    assert "viewer-config" not in body and "Waiting" in body
    assert "sign Baseline of this case first" in body
    _sign(task, world.reader)
    body = page_client(world.reader).get(f"/t/TRIAL-A/reads/tasks/{w8.pk}/").content.decode()
    assert "not been accepted by QC yet" in body and "viewer-config" not in body
    assert "101-001" not in body and not ISO_DATE.search(body)


# --- constant queries ----------------------------------------------------------------------------------

def _grow(world, n: int, start: int) -> None:
    for i in range(start, start + n):
        p = f.participant(world.coordinator, world.site, f"101-{i:03d}")
        bl = accept(f.visit(p, "BL"), actor=world.qc)
        task = ReadTask.objects.get(assignment__case__participant=p, assignment__reader=world.reader, visit=bl)
        if i % 2:
            _sign(task, world.reader)
            accept(f.visit(p, "W8"), actor=world.qc)


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona,path", [
    ("reader", "worklist/"), ("adjudicator", "adjudications/"), ("admin", "assignment/"), ("admin", "design/"),
])
def test_list_pages_make_a_constant_number_of_queries(page_client, world, persona, path):
    double_read(world)
    client = page_client(world.user(persona))
    url = f"/t/TRIAL-A/reads/{path}"
    _grow(world, 2, start=100)
    client.get(url)  # warm caches (content types, sessions)
    small = _count(client, url)
    _grow(world, 4, start=200)
    assert ReadCase.objects.count() == 6
    large = _count(client, url)
    assert large == small, f"{url}: {small} queries with 2 cases, {large} with 6"
