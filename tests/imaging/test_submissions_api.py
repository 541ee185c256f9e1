"""Submitting images through the API: the happy path, duplicates, bad input, permissions."""
from __future__ import annotations

import pytest

from audit.models import AuditEvent
from imaging.models import Instance, Series, Study, SubmissionFile
from tests.imaging import synthetic
from tests.imaging.upload_helpers import ct_files, open_submission, post_files, upload_all, zip_of
from tests.trials import factories as f
from trials.models import Visit


@pytest.fixture
def bl(world):
    return f.visit(world.participant, "BL")


def test_a_series_is_deidentified_stored_and_recorded(world, api, bl):
    client = api(world.coordinator)
    result = upload_all(client, bl.pk, ct_files(4))
    assert result["state"] == "done"
    assert result["counts"]["deidentified"] == 4 and result["counts"]["rejected"] == 0
    study = Study.objects.get(visit=bl)
    series = Series.objects.get(study=study)
    assert series.instances.count() == 4 and series.modality == "CT"
    instance = series.instances.first()
    assert len(instance.sha256) == 64 and instance.size > 0 and instance.storage_key.endswith(".dcm")
    from django.core.files.storage import default_storage

    assert default_storage.exists(instance.storage_key)
    visit = Visit.objects.get(pk=bl.pk)
    assert visit.state == "received"
    actions = set(AuditEvent.objects.filter(trial=world.trial).values_list("action", flat=True))
    assert {"submission.open", "submission_file.receive", "submission_file.deidentify", "submission.complete",
            "submission.finish"} <= actions


def test_the_stored_file_is_deidentified_and_carries_trial_attributes(world, api, bl):
    import pydicom
    from django.core.files.storage import default_storage

    upload_all(api(world.coordinator), bl.pk, ct_files(1))
    instance = Instance.objects.get()
    with default_storage.open(instance.storage_key) as fh:
        ds = pydicom.dcmread(fh)
    assert ds.PatientID == "101-001" and str(ds.PatientName) == "101-001"
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.ClinicalTrialProtocolID == "TRIAL-A" and ds.ClinicalTrialSubjectID == "101-001"
    assert ds.ClinicalTrialTimePointID == "BL"
    assert ds.SOPInstanceUID == instance.sop_uid


def test_quarantine_is_empty_afterwards(world, api, bl, settings):
    from pathlib import Path

    upload_all(api(world.coordinator), bl.pk, ct_files(3))
    leftovers = [p for p in Path(settings.QUARANTINE_DIR).rglob("*") if p.is_file()]
    assert leftovers == []


def test_reuploading_the_same_files_creates_no_rows_and_reports_duplicates(world, api, bl):
    client = api(world.coordinator)
    files = ct_files(3)
    upload_all(client, bl.pk, files)
    counts = (Instance.objects.count(), Series.objects.count(), Study.objects.count())
    second = upload_all(client, bl.pk, files)
    assert second["counts"]["duplicate"] == 3 and second["counts"]["deidentified"] == 0
    duplicates = SubmissionFile.objects.filter(submission_id=second["id"]).values_list("reason_code", flat=True)
    assert set(duplicates) == {"already_received"}
    assert (Instance.objects.count(), Series.objects.count(), Study.objects.count()) == counts


def test_duplicates_within_one_request(world, api, bl):
    files = ct_files(2)
    result = upload_all(api(world.coordinator), bl.pk, files + files)
    assert result["counts"]["deidentified"] == 2 and result["counts"]["duplicate"] == 2


@pytest.mark.parametrize("name,data,reason,code", [
    # A real non-DICOM file among the images (not a known side file such as README.TXT: those are skipped).
    ("IM0099.dcm", b"hello, this is not DICOM at all" * 10, "not a DICOM file", "unreadable"),
    ("empty.dcm", b"", "empty file", "empty"),
])
def test_bad_files_are_rejected_in_plain_words_and_change_nothing_else(world, api, bl, name, data, reason, code):
    result = upload_all(api(world.coordinator), bl.pk, [*ct_files(2), (name, data)])
    assert result["counts"]["rejected"] == 1 and result["counts"]["deidentified"] == 2
    assert [(e["reason"], e["reason_code"]) for e in result["errors"]] == [(reason, code)]


def test_a_truncated_file_is_rejected(world, api, bl):
    good = ct_files(2)
    truncated = synthetic.make_truncated(good[1][1])
    result = upload_all(api(world.coordinator), bl.pk, [good[0], ("IM9999.dcm", truncated)])
    assert result["counts"]["rejected"] == 1
    assert "truncated" in result["errors"][0]["reason"] and result["errors"][0]["reason_code"] == "unreadable"


def test_a_file_without_file_meta_is_accepted(world, api, bl):
    data = synthetic.make_file_without_meta(synthetic.make_ct_series(1, rows=32, cols=32).datasets[0])
    result = upload_all(api(world.coordinator), bl.pk, [("IM0001", data)])
    assert result["counts"]["deidentified"] == 1


def test_a_second_patient_in_the_submission_is_refused(world, api, bl):
    other = synthetic.SyntheticPatient(name="ROE^RICHARD", patient_id="MRN777", birth_date="19700202")
    files = ct_files(2) + ct_files(1, patient=other, seed=9)
    result = upload_all(api(world.coordinator), bl.pk, files)
    assert result["counts"]["deidentified"] == 2 and result["counts"]["rejected"] == 1
    assert result["errors"][0]["reason"] == "belongs to a different patient than the rest of this submission"
    assert result["errors"][0]["reason_code"] == "other_patient"


def test_a_later_scan_of_another_patient_is_refused_for_this_participant(world, api):
    client = api(world.coordinator)
    upload_all(client, f.visit(world.participant, "BL").pk, ct_files(1))
    other = synthetic.SyntheticPatient(name="ROE^RICHARD", patient_id="MRN777", birth_date="19700202")
    result = upload_all(client, f.visit(world.participant, "W8").pk, ct_files(1, patient=other, seed=4))
    assert result["state"] == "failed"
    assert result["errors"][0]["reason"] == "belongs to a different patient than earlier images of this participant"
    assert result["errors"][0]["reason_code"] == "other_patient"


def test_the_same_patient_cannot_be_two_participants(world, api):
    upload_all(api(world.coordinator), f.visit(world.participant, "BL").pk, ct_files(1))
    p2 = f.participant(world.coordinator, world.site, "101-002")
    result = upload_all(api(world.coordinator), f.visit(p2, "BL").pk, ct_files(1, seed=5))
    assert result["errors"][0]["reason"] == "belongs to the patient of another participant of this trial"
    assert result["errors"][0]["reason_code"] == "other_patient"


def test_a_zip_with_nested_folders_and_a_dicomdir(world, api, bl):
    files = [(f"DICOM/ST000001/SE000001/{name}", data) for name, data in ct_files(3)]
    files.append(("DICOMDIR", synthetic.make_dicomdir()))
    files.append(("__MACOSX/._IM0001", b"\x00\x05\x16\x07"))
    result = upload_all(api(world.coordinator), bl.pk, [("cd.zip", zip_of(files))])
    assert result["counts"]["deidentified"] == 3 and result["counts"]["expanded"] == 1
    assert result["counts"]["skipped"] == 2 and result["counts"]["rejected"] == 0
    skipped = SubmissionFile.objects.filter(status="skipped").values_list("reason_code", flat=True)
    assert sorted(skipped) == ["not_an_image", "system_file"]


@pytest.mark.parametrize("member,reason", [("../../etc/passwd", "unsafe paths"), ("/abs/IM0001", "unsafe paths")])
def test_zip_with_unsafe_paths_is_refused_whole(world, api, bl, member, reason):
    files = ct_files(2)
    archive = zip_of([files[0], (member, files[1][1])])
    result = upload_all(api(world.coordinator), bl.pk, [("evil.zip", archive)])
    assert result["counts"]["rejected"] == 1 and reason in result["errors"][0]["reason"]
    assert result["errors"][0]["reason_code"] == "archive_refused"
    assert Instance.objects.count() == 0


def test_zip_bombs_are_refused(world, api, bl, settings):
    settings.ZIP_MAX_RATIO = 50
    bomb = zip_of([("IM0001.dcm", b"\x00" * (20 * 2**20))])
    result = upload_all(api(world.coordinator), bl.pk, [("bomb.zip", bomb)])
    assert "zip bomb" in result["errors"][0]["reason"] and Instance.objects.count() == 0
    assert result["errors"][0]["reason_code"] == "archive_refused"


def test_zip_expanding_beyond_the_total_limit_is_refused(world, api, bl, settings):
    settings.ZIP_MAX_TOTAL_MB = 1
    archive = zip_of([(n, d) for n, d in ct_files(2, rows=512, cols=512)], compression=0)
    result = upload_all(api(world.coordinator), bl.pk, [("big.zip", archive)])
    assert "expands to more than 1 MB" in result["errors"][0]["reason"]


def test_nested_zips_are_refused(world, api, bl):
    inner = zip_of(ct_files(1))
    result = upload_all(api(world.coordinator), bl.pk, [("outer.zip", zip_of([("inner.zip", inner), *ct_files(1, seed=3)]))])
    reasons = [e["reason"] for e in result["errors"]]
    assert any("nested archives" in r for r in reasons) and result["counts"]["deidentified"] == 1
    assert {e["reason_code"] for e in result["errors"]} == {"nested_archive"}


def test_files_over_the_size_limit_are_refused(world, api, bl, settings):
    settings.UPLOAD_MAX_FILE_MB = 0
    result = upload_all(api(world.coordinator), bl.pk, ct_files(1))
    assert "larger than the 0 MB limit" in result["errors"][0]["reason"]
    assert result["errors"][0]["reason_code"] == "too_large"


def test_a_body_over_the_request_limit_is_refused_413_before_it_is_read(world, api, bl, settings):
    """The limit applies from the Content-Length: a 300 MB body is refused before a byte of it is read (#19)."""
    import io

    settings.UPLOAD_MAX_REQUEST_MB = 1
    client = api(world.coordinator)
    sub = open_submission(client, bl.pk)

    class Unread(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    response = client.generic("POST", f"/api/submissions/{sub['id']}/files/", b"",
                              content_type="multipart/form-data; boundary=x",
                              CONTENT_LENGTH=str(300 * 2**20), **{"wsgi.input": Unread()})
    assert response.status_code == 413
    assert "larger than the 1 MB limit" in response.json()["detail"]
    assert not SubmissionFile.objects.exists()
    assert list(settings.UPLOAD_TMP_DIR.iterdir()) == []
    # A page form gets the same refusal in plain words; a body within the limit is taken as before.
    page = client.generic("POST", f"/t/TRIAL-A/visits/{bl.pk}/", b"", CONTENT_LENGTH=str(2 * 2**20))
    assert page.status_code == 413 and b"1 MB limit" in page.content
    assert post_files(client, sub["id"], ct_files(2)).status_code == 201


@pytest.mark.parametrize("persona,status", [
    ("coordinator", 201), ("other_coordinator", 404), ("qc", 403), ("admin", 403), ("sponsor", 403), ("auditor", 403),
    ("reader", 404), ("adjudicator", 404), ("coordinator_b", 404), ("outsider", 404), (None, 401),
])
def test_who_may_open_a_submission(world, api, bl, persona, status):
    client = api(world.user(persona) if persona else None)
    assert client.post("/api/submissions/", {"visit": bl.pk}, format="json").status_code == status


@pytest.mark.parametrize("persona,status", [
    ("coordinator", 200), ("other_coordinator", 404), ("qc", 200), ("admin", 200), ("sponsor", 200),
    ("reader", 404), ("coordinator_b", 404), ("outsider", 404), (None, 401),
])
def test_who_may_see_a_submission(world, api, bl, persona, status):
    sub = open_submission(api(world.coordinator), bl.pk)
    client = api(world.user(persona) if persona else None)
    assert client.get(f"/api/submissions/{sub['id']}/").status_code == status


@pytest.mark.parametrize("persona,status", [("other_coordinator", 404), ("qc", 403), ("coordinator_b", 404), (None, 401)])
def test_nobody_else_may_post_files(world, api, bl, persona, status):
    sub = open_submission(api(world.coordinator), bl.pk)
    client = api(world.user(persona) if persona else None)
    assert post_files(client, sub["id"], ct_files(1)).status_code == status
    assert SubmissionFile.objects.count() == 0


def test_submitting_to_an_accepted_visit_is_refused_unless_qc_asked(world, api, bl):
    from trials.services import visit_transition

    visit_transition(actor=world.coordinator, visit=bl, state="received")
    visit_transition(actor=world.qc, visit=bl, state="accepted")
    r = api(world.coordinator).post("/api/submissions/", {"visit": bl.pk}, format="json")
    assert r.status_code == 409 and "accepted by QC" in r.json()["detail"]
    Visit.objects.filter(pk=bl.pk).update(reupload_requested=True)
    assert api(world.coordinator).post("/api/submissions/", {"visit": bl.pk}, format="json").status_code == 201


def test_a_completed_submission_takes_no_more_files(world, api, bl):
    client = api(world.coordinator)
    result = upload_all(client, bl.pk, ct_files(1))
    r = post_files(client, result["id"], ct_files(1, seed=2))
    assert r.status_code == 409
    assert client.post(f"/api/submissions/{result['id']}/complete/").status_code == 409


def test_submission_list_is_scoped_and_filterable(world, api, bl):
    upload_all(api(world.coordinator), bl.pk, ct_files(1))
    assert len(api(world.coordinator).get(f"/api/submissions/?visit={bl.pk}").json()["results"]) == 1
    assert api(world.other_coordinator).get("/api/submissions/").json()["results"] == []
    assert api(world.coordinator_b).get("/api/submissions/").json()["results"] == []


def test_projection_images_keep_where_their_spacing_came_from(world, api, bl):
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    ds.Modality = "CR"
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.15, 0.15]
    upload_all(api(world.coordinator), bl.pk, [("IM0001.dcm", synthetic.to_bytes(ds))])
    instance = Instance.objects.get()
    assert instance.pixel_spacing == [0.15, 0.15]
    assert instance.header["PixelSpacingSource"] == "ImagerPixelSpacing"


def _accepted_with_reupload_asked(world, visit, state="accepted"):
    from trials.services import visit_transition

    visit_transition(actor=world.coordinator, visit=visit, state="received")
    visit_transition(actor=world.qc, visit=visit, state="accepted")
    Visit.objects.filter(pk=visit.pk).update(state=state, reupload_requested=True)


def test_a_read_visit_takes_no_new_images_even_when_a_reupload_was_asked(world, api, bl):
    """Bug B2 (issue #9): the upload was accepted, and finishing it could never succeed."""
    from imaging.models import Submission

    _accepted_with_reupload_asked(world, bl, state="read")
    r = api(world.coordinator).post("/api/submissions/", {"visit": bl.pk}, format="json")
    assert r.status_code == 409, r.content
    assert "has been read" in r.json()["detail"]
    assert not Submission.objects.exists()
    assert not AuditEvent.objects.filter(action="submission.open").exists()


def test_images_for_a_visit_read_while_they_were_on_their_way_are_refused_and_the_submission_ends(world, api, bl):
    """Bug B2 (issue #9): no path leaves a submission processing for ever."""
    client = api(world.coordinator)
    _accepted_with_reupload_asked(world, bl)
    sub = open_submission(client, bl.pk)
    Visit.objects.filter(pk=bl.pk).update(state="read")  # the reads finished meanwhile
    assert post_files(client, sub["id"], ct_files(2)).status_code == 201
    assert client.post(f"/api/submissions/{sub['id']}/complete/").status_code == 200
    result = client.get(f"/api/submissions/{sub['id']}/").json()
    assert result["state"] == "failed"
    assert result["counts"]["rejected"] == 2 and result["counts"]["deidentified"] == 0
    assert not Instance.objects.exists()
    assert Visit.objects.get(pk=bl.pk).state == "read"
    rejected = SubmissionFile.objects.filter(submission_id=sub["id"]).values_list("reason", flat=True)
    assert all("has been read" in reason for reason in rejected)
