"""Automated QC after upload: findings per rule, automatic queries, re-uploads that fix them."""
from __future__ import annotations

import datetime as dt

import pytest

from imaging.models import QcFinding, Query, Submission, SubmissionFile
from imaging.qc.adapter import visit_context
from tests.imaging.qc_helpers import cap_requirement, qc_series
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f


@pytest.fixture
def bl(world):
    cap_requirement(world.timepoints[0])
    return f.visit(world.participant, "BL")


def codes(visit) -> set[str]:
    return set(QcFinding.objects.filter(visit=visit, is_current=True).values_list("code", flat=True))


def test_a_compliant_series_gives_no_blocking_finding_and_no_query(world, api, bl):
    upload_all(api(world.coordinator), bl.pk, qc_series())
    assert not QcFinding.objects.filter(visit=bl, is_current=True, severity="blocking").exists(), codes(bl)
    assert not Query.objects.filter(visit=bl).exists()


@pytest.mark.parametrize("kwargs,code", [
    ({"thickness": 7.0, "description": "CHEST 7mm"}, "slice_thickness_exceeded"),
    ({"missing": (5,)}, "missing_slices"),
    ({"modality": "MR", "description": "ABD T1"}, "wrong_modality"),
    ({"contrast": False, "description": "CAP 2.5MM"}, "contrast_missing"),
    ({"study_date": dt.date.today() - dt.timedelta(days=120)}, "scan_date_outside_window"),
    ({"body_part": "CHEST", "description": "THORAX"}, "required_series_missing"),
])
def test_each_rule_opens_an_automatic_query(world, api, bl, kwargs, code):
    upload_all(api(world.coordinator), bl.pk, qc_series(**kwargs))
    assert code in codes(bl)
    query = Query.objects.get(visit=bl, is_automatic=True, cause_key__startswith=code)
    assert query.state == "open" and query.raised_by is None
    assert query.messages.get().text == QcFinding.objects.get(visit=bl, is_current=True, key=query.cause_key).message
    assert bl.__class__.objects.get(pk=bl.pk).reupload_requested


def test_the_thick_slice_message_is_what_a_site_understands(world, api, bl):
    upload_all(api(world.coordinator), bl.pk, qc_series(thickness=7.0, description="CHEST 7mm", series_number=3))
    message = QcFinding.objects.get(visit=bl, code="slice_thickness_exceeded").message
    assert message.startswith("Series 3 'CHEST 7mm': slice thickness 7.0 mm exceeds the protocol maximum of 5.0 mm.")


def test_two_studies_in_one_visit_are_flagged(world, api, bl):
    client = api(world.coordinator)
    files = qc_series(seed=1, study_uid="1.2.826.0.1.3680043.8.498.11") + qc_series(
        seed=2, series_number=4, study_uid="1.2.826.0.1.3680043.8.498.22")
    upload_all(client, bl.pk, files)
    assert "multiple_studies" in codes(bl)


def test_a_reupload_that_fixes_the_cause_answers_the_query_but_never_resolves_it(world, api, bl, mailoutbox):
    client = api(world.coordinator)
    upload_all(client, bl.pk, qc_series(thickness=7.0, description="CHEST 7mm", series_number=3))
    query = Query.objects.get(visit=bl, is_automatic=True)
    assert any("New query" in m.subject for m in mailoutbox)  # the site was told
    upload_all(client, bl.pk, qc_series(thickness=2.0, description="CHEST 2mm", series_number=4, seed=3))
    query.refresh_from_db()
    assert query.state == "answered"
    assert query.messages.last().action == "auto_answer"
    assert "slice_thickness_exceeded" not in {c for c in codes(bl) if QcFinding.objects.filter(
        visit=bl, is_current=True, code=c, severity="blocking").exists()}
    assert not Query.objects.filter(visit=bl, state="resolved").exists()


def test_a_reupload_that_does_not_fix_it_leaves_the_query_open(world, api, bl):
    client = api(world.coordinator)
    upload_all(client, bl.pk, qc_series(thickness=7.0, series_number=3))
    upload_all(client, bl.pk, qc_series(thickness=8.0, series_number=3, seed=5, description="CHEST 8mm"))
    assert Query.objects.filter(visit=bl, is_automatic=True, state="open").exists()


def test_findings_are_replaced_not_accumulated(world, api, bl):
    client = api(world.coordinator)
    upload_all(client, bl.pk, qc_series(thickness=7.0, series_number=3))
    first = QcFinding.objects.filter(visit=bl, is_current=True).count()
    upload_all(client, bl.pk, qc_series(thickness=7.0, series_number=3))  # duplicates only: nothing new
    assert QcFinding.objects.filter(visit=bl, is_current=True).count() == first
    assert Query.objects.filter(visit=bl, is_automatic=True).count() == 1


def test_qc_reports_unreadable_files_by_reason_code_not_by_the_words(world, bl):
    """Files refused for the patient, another visit or an unfinished upload are not 'unreadable';
    the code decides, so rewording a message cannot change what QC reports."""
    submission = Submission.objects.create(visit=bl, opened_by=world.coordinator, state="done")
    rows = [("notes.txt", "unreadable", "not a DICOM file"),
            ("a.dcm", "other_patient", "belongs to a different patient than the rest of this submission"),
            ("b.dcm", "received_elsewhere", "this study was already received for another visit"),
            ("c.dcm", "upload_unfinished", "the upload of this file was not finished"),
            # The words of a mix-up with the code of a bad file: the code wins.
            ("d.dcm", "archive_refused", "belongs to nobody: the archive is damaged")]
    for ordinal, (name, code, words) in enumerate(rows, start=1):
        SubmissionFile.objects.create(submission=submission, ordinal=ordinal, display_name=name, status="rejected",
                                      reason=words, reason_code=code)
    reported = visit_context(bl).unreadable_files
    assert [(u.name, u.reason) for u in reported] == [
        ("notes.txt", "not a DICOM file"), ("d.dcm", "belongs to nobody: the archive is damaged")]
