"""The side files of a PACS or CD export are skipped ("side file"), never rejected, and QC never reports them."""
from __future__ import annotations

import pytest

from imaging.intake.files import is_side_file, safe_display_name
from imaging.intake.services import submission_upload_start
from imaging.models import QcFinding, Submission, SubmissionFile
from imaging.qc.adapter import visit_context
from tests.imaging.upload_helpers import ct_files, open_submission, post_files, upload_all, zip_of
from tests.trials import factories as f

pytestmark = pytest.mark.django_db

NOT_DICOM = b"This disc was written by a PACS. Not an image." * 4
SIDE_FILES = [
    "README.TXT", "readme", "ReadMe_First.txt", "LOCKFILE", "VERSION", "AUTORUN.INF", "INDEX.HTM", "viewer/help.html",
    "report.pdf", "VIEWER/VIEWER.EXE", "VIEWER/DCMTK.DLL", "VIEWER/SETTINGS.INI", "Thumbs.db", ".DS_Store", "desktop.ini",
    "__MACOSX/DICOM/._IM0001", "DICOMDIR",
]


@pytest.fixture
def bl(world):
    return f.visit(world.participant, "BL")


@pytest.mark.parametrize("name", SIDE_FILES)
def test_known_side_files_are_recognised(name):
    assert is_side_file(name)


@pytest.mark.parametrize("name", ["IM0001", "IM0001.dcm", "DICOM/ST000001/SE000001/IM000001", "SMITH_JOHN/CT1", "scan.bin"])
def test_images_and_other_files_are_not_side_files(name):
    assert not is_side_file(name)


def test_fixed_side_file_names_are_shown_and_free_names_keep_only_their_suffix():
    assert safe_display_name("CD/README.TXT") == "…/README.TXT"
    assert safe_display_name("LOCKFILE") == "LOCKFILE"
    assert safe_display_name("SMITH_JOHN_report.pdf") == "….pdf"


def test_side_files_of_an_export_are_skipped_and_a_real_non_dicom_file_is_rejected(world, api, bl):
    side = [(name, NOT_DICOM) for name in SIDE_FILES if name != "DICOMDIR"]
    files = [*ct_files(2), *side, ("LOCKFILE2.TXT", b""), ("IM0099", NOT_DICOM)]
    result = upload_all(api(world.coordinator), bl.pk, files)
    assert result["counts"]["deidentified"] == 2
    assert result["counts"]["skipped"] == len(side) + 1
    # Only the stray non-DICOM file that is not a known side file is rejected, with its reason.
    assert [(e["reason"], e["reason_code"]) for e in result["errors"]] == [("not a DICOM file", "unreadable")]
    skipped = SubmissionFile.objects.filter(status="skipped")
    assert {s.reason for s in skipped} == {"side file (not an image)"}
    assert {s.reason_code for s in skipped} == {"side_file"}
    # QC looks at the rejected file only: no finding quotes a side file (or its scrubbed name, '…').
    assert [u.reason for u in visit_context(bl).unreadable_files] == ["not a DICOM file"]
    messages = " ".join(QcFinding.objects.filter(visit=bl, is_current=True).values_list("message", flat=True))
    assert "README" not in messages and "side file" not in messages
    assert messages.count("not a DICOM file") <= 1


def test_side_files_inside_a_zip_are_skipped(world, api, bl):
    archive = zip_of([*(("CD/DICOM/" + n, d) for n, d in ct_files(2)), ("CD/README.TXT", NOT_DICOM),
                      ("CD/VIEWER/VIEWER.EXE", NOT_DICOM), ("CD/AUTORUN.INF", NOT_DICOM)])
    result = upload_all(api(world.coordinator), bl.pk, [("cd.zip", archive)])
    assert result["counts"]["deidentified"] == 2 and result["counts"]["skipped"] == 3
    assert result["counts"]["rejected"] == 0 and result["errors"] == []
    assert set(SubmissionFile.objects.filter(status="skipped").values_list("reason_code", flat=True)) == {"side_file"}


def test_an_empty_side_file_of_a_resumable_upload_is_skipped_not_rejected(world, bl):
    submission = Submission.objects.get(pk=open_submission_for(world, bl))
    lockfile = submission_upload_start(actor=world.coordinator, submission=submission, client_key="k1", name="LOCKFILE", size=0)
    empty = submission_upload_start(actor=world.coordinator, submission=submission, client_key="k2", name="IM0001", size=0)
    assert (lockfile.status, lockfile.reason_code, lockfile.reason) == ("skipped", "side_file", "side file (not an image)")
    assert (empty.status, empty.reason_code) == ("rejected", "empty")


def test_a_dicom_file_with_a_side_file_name_is_still_an_image(world, api, bl):
    data = ct_files(1)[0][1]
    result = upload_all(api(world.coordinator), bl.pk, [("IMAGE.TXT", data)])
    assert result["counts"]["deidentified"] == 1 and result["counts"]["skipped"] == 0


def open_submission_for(world, visit):
    from imaging.intake.services import submission_open

    return submission_open(actor=world.coordinator, visit=visit).pk


def test_multipart_side_file_rows_keep_what_their_name_told(world, api, bl):
    client = api(world.coordinator)
    sub = open_submission(client, bl.pk)
    assert post_files(client, sub["id"], [("README.TXT", NOT_DICOM)]).status_code == 201
    row = SubmissionFile.objects.get()
    assert row.display_name == "README.TXT" and row.status == "skipped" and row.reason_code == "side_file"
