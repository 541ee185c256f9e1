"""The reading panel of the task page (reads.md "Reading a timepoint"), as the server renders it: only for
the task's own reader, with entry controls and the sign dialog while the task is open for entries, and a
signed task read-only with its signature, the superseded ones and the next timepoint."""
from __future__ import annotations

import json
import re

import pytest

from reads import reading
from reads.choices import SIGNATURE_MEANING
from reads.models import ReadTask
from tests.reads.factories import imaged_case, measure
from tests.reads.test_reads_pages import blinded_text, config_of

pytestmark = pytest.mark.django_db

EDITING_CONTROLS = ('id="add-lesion"', 'id="add-new-lesion"', 'id="no-new-lesions"', 'id="sign-open"',
                    'id="sign-dialog"', 'type="password"', "<form")


def reading_config(response) -> dict:
    html = response.content.decode()
    tag = '<script id="reading-config" type="application/json">'
    start = html.index(tag) + len(tag)
    return json.loads(html[start: html.index("</script>", start)])


def _task(world, case, code: str, reader=None) -> ReadTask:
    return ReadTask.objects.get(assignment__case=case, assignment__reader=reader or world.reader,
                                visit__timepoint__code=code)


def _url(task: ReadTask) -> str:
    return f"/t/TRIAL-A/reads/tasks/{task.pk}/"


def _sign_baseline(world, case) -> ReadTask:
    bl = _task(world, case, "BL")
    reading.lesion_add(actor=world.reader, task=bl, kind="target", organ="lung",
                       measurement=measure(world.reader, bl.visit, 30))
    reading.read_task_sign(actor=world.reader, task=bl, password="pw-for-tests-123")
    bl.refresh_from_db()
    return bl


def test_the_panel_is_shown_to_the_tasks_own_reader_only(page_client, world):
    case = imaged_case(world, ("BL", "W8"))
    bl = _task(world, case, "BL")
    response = page_client(world.reader).get(_url(bl))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="reading-panel"' in body and "js/reading.js" in body and 'aria-live="polite"' in body
    for control in ('id="add-lesion"', 'id="sign-open"', 'id="sign-dialog"', 'for="lesion-organ"',
                    'for="sign-password"'):
        assert control in body, control
    assert 'id="add-new-lesion"' not in body  # new lesions are for follow-ups
    assert SIGNATURE_MEANING in body
    config = reading_config(response)
    assert config["task"] == bl.pk and config["visit"] == bl.visit_id and config["editable"] is True
    assert config["baseline"] is True and config["api"]["task"] == f"/api/read-tasks/{bl.pk}/"
    assert config["api"]["organs"] == "/api/read-organs/"
    assert config_of(response)["canMeasure"] is True
    text = blinded_text(response)
    for hidden in ("101-001", world.site.name):
        assert hidden not in text

    # Nobody else gets the page, so nobody else gets the panel: the other reader of the case, the admin, QC.
    reader_b_task = _task(world, case, "BL", reader=world.reader2)
    for user, url in ((world.reader2, _url(bl)), (world.admin, _url(bl)), (world.qc, _url(bl)),
                      (world.reader, _url(reader_b_task))):
        response = page_client(user).get(url)
        assert response.status_code == 404 and b"reading-panel" not in response.content
    # The viewer's own pages never carry it.
    qc_viewer = page_client(world.qc).get(f"/t/TRIAL-A/viewer/visits/{bl.visit_id}/").content.decode()
    assert "reading-panel" not in qc_viewer and "reading.js" not in qc_viewer


def test_a_follow_up_asks_the_new_lesion_question(page_client, world):
    case = imaged_case(world, ("BL", "W8"))
    _sign_baseline(world, case)
    w8 = _task(world, case, "W8")
    response = page_client(world.reader).get(_url(w8))
    body = response.content.decode()
    assert 'id="no-new-lesions"' in body and 'id="add-new-lesion"' in body and 'id="sign-open"' in body
    assert 'id="add-lesion"' not in body
    config = reading_config(response)
    assert config["baseline"] is False and config["editable"] is True and config["state"] == "ready"
    assert config_of(response)["canMeasure"] is True


def test_a_signed_task_is_read_only_with_its_signature_and_the_next_timepoint(page_client, world):
    world.reader.first_name, world.reader.last_name = "Ada", "Reader"
    world.reader.save()
    case = imaged_case(world, ("BL", "W8"))
    bl = _sign_baseline(world, case)
    w8 = _task(world, case, "W8")
    response = page_client(world.reader).get(_url(bl))
    body = response.content.decode()
    for control in EDITING_CONTROLS:
        assert control not in body.split('id="reading-panel"')[1].split("viewer-config")[0], control
    assert reading_config(response)["editable"] is False and config_of(response)["canMeasure"] is False
    signature = bl.signatures.get()
    signed_at = signature.signed_at.strftime("%Y-%m-%d %H:%M:%S")
    assert re.search(r'id="signature"', body)
    assert "Ada Reader" in body and f"{signed_at} UTC" in body and f"“{SIGNATURE_MEANING}”" in body
    assert f'id="next-timepoint" href="{_url(w8)}"' in body
    assert 'id="signature-history"' not in body


def test_a_reopened_task_shows_its_superseded_signature(page_client, world):
    case = imaged_case(world, ("BL", "W8"))
    bl = _sign_baseline(world, case)
    reading.read_task_reopen(actor=world.admin, task=bl, reason="Re-measure T1")
    response = page_client(world.reader).get(_url(bl))
    body = response.content.decode()
    assert 'id="signature-history"' in body and "Superseded signatures (1)" in body and "Re-measure T1" in body
    assert 'id="signature"' not in body and 'id="sign-open"' in body  # open again for entries
    assert reading_config(response)["editable"] is True
