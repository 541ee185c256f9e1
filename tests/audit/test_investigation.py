"""Investigating the trail (#17 item 9): uploads as steps with counts, everything about one subject,
actions in words, one qc.run per run, the export taking the form as it stands, the system named the
same everywhere, and opening images audited once per series and page load or retrieve."""
from __future__ import annotations

import csv
import io
import re

import pytest

from audit.chain import verify_chain
from audit.models import AuditEvent
from imaging.models import Series, Submission
from imaging.qc.services import visit_qc_run
from imaging.queries.services import query_raise
from tests.imaging.qc_helpers import cap_requirement, qc_series
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f

pytestmark = pytest.mark.django_db


def rows(response) -> list[str]:
    """The data-action of every row of the trail page's table."""
    assert response.status_code == 200, response.status_code
    return re.findall(r'<tr data-action="([^"]+)"', response.content.decode())


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def uploaded(world, api):
    """101-001's baseline uploaded through the API (12 images and a file that is not DICOM), QC run, a query raised."""
    cap_requirement(world.timepoints[0])
    visit = f.visit(world.participant, "BL")
    files = [*qc_series(12, thickness=7.0, series_number=3), ("IM9999.dcm", b"not an image")]
    upload_all(api(world.coordinator), visit.pk, files)
    other = f.visit(world.other_participant, "BL")
    upload_all(api(world.other_coordinator), other.pk, qc_series(4, series_number=2, seed=3))
    query_raise(actor=world.qc, visit=visit, subject="Contrast phase?", message="Which phase is series 3?",
                series=Series.objects.get(study__visit=visit))
    return visit


def test_an_upload_shows_as_its_steps_with_counts_and_its_file_events_one_click_away(world, page_client, uploaded):
    client = page_client(world.auditor)
    response = client.get("/t/TRIAL-A/audit/")
    actions = rows(response)
    assert "submission.open" in actions and "submission.finish" in actions
    assert not [a for a in actions if a.startswith("submission_file.")]
    body = response.content.decode()
    submission = Submission.objects.get(visit=uploaded)
    assert "deidentified" in body and "rejected" in body  # the finish step's counts
    finish = AuditEvent.objects.get(action="submission.finish", target_id=str(submission.pk))
    assert finish.data["files"] == {"deidentified": 12, "rejected": 1}
    link = f"?object=imaging.submission:{submission.pk}&amp;detail=1"
    assert link in body
    detail = rows(client.get(f"/t/TRIAL-A/audit/?object=imaging.submission:{submission.pk}&detail=1"))
    assert detail.count("submission_file.receive") == 13 and detail.count("submission_file.deidentify") == 12
    assert "submission_file.reject" in detail and "submission.finish" in detail
    others = Submission.objects.exclude(pk=submission.pk).get()
    assert f"imaging.submission:{others.pk}" not in client.get(
        f"/t/TRIAL-A/audit/?object=imaging.submission:{submission.pk}&detail=1").content.decode()
    # Ticking "every per-file event" shows them all in the trail; the API always lists everything.
    assert "submission_file.receive" in rows(client.get("/t/TRIAL-A/audit/?detail=1"))
    api_actions = {e["action"] for e in world_api_events(world)}
    assert "submission_file.deidentify" in api_actions


def world_api_events(world) -> list[dict]:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(world.auditor)
    out, url = [], "/api/audit-events/?trial=TRIAL-A&page_size=500"
    while url:
        page = client.get(url).json()
        out += page["results"]
        url = page.get("next")
    return out


def test_filtering_by_subject_finds_everything_about_that_subject(world, page_client, uploaded):
    from imaging.models import Instance
    from imaging.viewer.measurements import measurement_create

    instance = Instance.objects.filter(series__study__visit=uploaded).order_by("instance_number").first()
    f.member(world.trial, "reader", username="qc_reader")  # an unrelated membership event, about nobody
    measurement_create(actor=world.qc, instance=instance, points=[[1.0, 1.0], [10.0, 1.0]])
    client = page_client(world.auditor)
    actions = set(rows(client.get("/t/TRIAL-A/audit/?subject=101-001&detail=1")))
    assert {"participant.enrol", "visit.state_change", "submission.open", "submission_file.deidentify",
            "submission.finish", "qc.run", "query.raise", "measurement.create"} <= actions, actions
    assert "membership.create" not in actions
    body = client.get("/t/TRIAL-A/audit/?subject=101-001&detail=1").content.decode().split("<tbody>")[1]
    assert "102-001" not in body
    # Every event about 101-001 records it, whatever its object (a file, a series, a query...).
    mine = AuditEvent.objects.filter(subject_id=world.participant.pk)
    assert mine.filter(target_type="imaging.submissionfile").exists() and mine.filter(target_type="imaging.query").exists()
    assert not AuditEvent.objects.filter(subject_id=world.participant.pk, trial=world.other_trial).exists()
    # An unknown subject finds nothing rather than everything; the chain still verifies with subjects in it.
    assert rows(client.get("/t/TRIAL-A/audit/?subject=999-999")) == []
    assert verify_chain().ok


def test_a_read_is_found_under_its_subject(world):
    from reads import reading
    from reads.models import ReadTask
    from tests.reads.factories import imaged_case, measure

    case = imaged_case(world, ("BL",))
    task = ReadTask.objects.get(assignment__case=case, assignment__reader=world.reader, visit__timepoint__code="BL")
    lesion = reading.lesion_add(actor=world.reader, task=task, kind="target", organ="lung",
                                measurement=measure(world.reader, task.visit, 20))
    event = AuditEvent.objects.filter(action="lesion.add", target_id=str(lesion.pk)).get()
    assert event.subject_id == world.participant.pk
    assert AuditEvent.objects.filter(action="read_task.start", subject_id=world.participant.pk).exists()


def test_actions_are_shown_in_words_with_their_code(world, page_client, uploaded):
    body = page_client(world.auditor).get("/t/TRIAL-A/audit/").content.decode()
    assert "Automated QC run<br><small><code>qc.run</code>" in body
    assert '<option value="qc.run">Automated QC run</option>' in body


def test_qc_run_is_written_once_per_run(world, uploaded):
    submission = Submission.objects.get(visit=uploaded)
    assert AuditEvent.objects.filter(action="qc.run", target_id=str(uploaded.pk)).count() == 1
    visit_qc_run(visit_id=uploaded.pk, submission_id=submission.pk)  # a redelivered task
    assert AuditEvent.objects.filter(action="qc.run", target_id=str(uploaded.pk)).count() == 1
    visit_qc_run(visit_id=uploaded.pk)  # an explicit re-run is a run of its own
    assert AuditEvent.objects.filter(action="qc.run", target_id=str(uploaded.pk)).count() == 2


def test_the_system_is_named_the_same_on_the_page_and_in_the_export(world, page_client, uploaded):
    client = page_client(world.auditor)
    body = client.get("/t/TRIAL-A/audit/?action=qc.run").content.decode().split("<tbody>")[1]
    assert "<td>system</td>" in body
    exported = csv_rows(client.get("/t/TRIAL-A/audit/export.csv?action=qc.run"))
    assert exported and {r["user"] for r in exported} == {"system"}
    assert {r["action_name"] for r in exported} == {"Automated QC run"}


def test_the_export_takes_the_filter_form_as_it_stands(world, page_client, uploaded):
    """The Export button submits the filter form to the export, so typed-but-not-applied filters count."""
    body = page_client(world.auditor).get("/t/TRIAL-A/audit/").content.decode()
    form = body[body.index('<form method="get" class="filters'):body.index("</form>", body.index('id="audit-filters"'))]
    assert 'formaction="/t/TRIAL-A/audit/export.csv"' in form
    for name in ("subject", "object", "user", "action", "from", "to", "detail"):
        assert f'name="{name}"' in form, name
    exported = csv_rows(page_client(world.auditor).get("/t/TRIAL-A/audit/export.csv?subject=102-001"))
    assert exported and all("101-001" not in r["object"] for r in exported)
    assert not [r for r in exported if r["action"].startswith("submission_file.")]  # grouped, as the page shows it


def test_opening_images_is_audited_once_per_series_and_page_load(world, page_client, uploaded):
    series = Series.objects.get(study__visit=uploaded)
    opened = AuditEvent.objects.filter(action="series.view", target_id=str(series.pk))
    client = page_client(world.qc)
    assert client.get(f"/t/TRIAL-A/viewer/visits/{uploaded.pk}/").status_code == 200
    assert opened.count() == 1
    event = opened.get()
    assert event.actor == world.qc and event.subject_id == world.participant.pk and event.data["via"] == "viewer"
    # Frames, renders and thumbnails the viewer then fetches are not events of their own.
    from imaging.models import Instance

    instance = Instance.objects.filter(series=series).first()
    assert client.get(f"/api/instances/{instance.pk}/thumbnail").status_code == 200
    qc_api = client
    assert opened.count() == 1
    # DICOMweb: a series' metadata or a study retrieve opens it once per request.
    study_uid = series.study.study_uid
    assert qc_api.get(f"/dicomweb/studies/{study_uid}/series/{series.series_uid}/metadata").status_code == 200
    assert opened.count() == 2 and opened.order_by("-seq").first().data["via"] == "DICOMweb metadata"
    response = qc_api.get(f"/dicomweb/studies/{study_uid}", HTTP_ACCEPT='multipart/related; type="application/dicom"')
    assert response.status_code == 200
    b"".join(response.streaming_content)
    assert opened.count() == 3
    # A refused request opens nothing.
    assert page_client(world.other_coordinator).get(f"/dicomweb/studies/{study_uid}/metadata").status_code == 404
    assert opened.count() == 3
