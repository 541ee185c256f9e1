"""`manage.py deidentify` uses the upload code path: same input, same participant, same bytes."""
from __future__ import annotations

import hashlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from imaging.models import Instance
from tests.imaging import synthetic
from tests.imaging.upload_helpers import ct_files, upload_all
from tests.trials import factories as f


def write_inputs(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_output_matches_what_an_upload_stored(world, api, tmp_path):
    files = ct_files(3)
    upload_all(api(world.coordinator), f.visit(world.participant, "BL").pk, files)
    write_inputs(tmp_path / "in", files)
    call_command("deidentify", str(tmp_path / "in"), str(tmp_path / "out"), "--trial", "TRIAL-A", "--quiet", "--workers", "1")
    outputs = {p.stem: p for p in (tmp_path / "out").rglob("*.dcm")}
    stored = {i.sop_uid: i for i in Instance.objects.all()}
    assert set(outputs) == set(stored)
    # Same UIDs; the file bytes differ only where the upload records the visit (time point id).
    import pydicom

    for uid, path in outputs.items():
        ds = pydicom.dcmread(path)
        assert ds.PatientID == "101-001" and ds.SOPInstanceUID == uid
        assert ds.StudyDate == stored[uid].series.study.study_date.strftime("%Y%m%d")


def test_forcing_a_subject(world, tmp_path):
    write_inputs(tmp_path / "in", ct_files(1))
    call_command("deidentify", str(tmp_path / "in"), str(tmp_path / "out"), "--trial", "TRIAL-A", "--subject", "101-001",
                 "--quiet", "--workers", "1")
    import pydicom

    ds = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert ds.PatientID == "101-001" and ds.ClinicalTrialProtocolID == "TRIAL-A"


def test_unknown_patients_get_a_stable_pseudonym_and_bad_files_fail_the_run(world, tmp_path):
    write_inputs(tmp_path / "in", [*ct_files(1), ("notes.txt", synthetic.make_not_dicom())])
    with pytest.raises(CommandError, match="1 file"):
        call_command("deidentify", str(tmp_path / "in"), str(tmp_path / "out"), "--trial", "TRIAL-A", "--quiet",
                     "--workers", "1")
    import pydicom

    ds = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert ds.PatientID.startswith("UNENROLLED-")


def test_rerunning_reports_duplicates_and_changes_nothing(world, tmp_path, capsys):
    write_inputs(tmp_path / "in", ct_files(2))
    args = [str(tmp_path / "in"), str(tmp_path / "out"), "--trial", "TRIAL-A", "--workers", "1"]
    call_command("deidentify", *args)
    before = {p: sha(p) for p in (tmp_path / "out").rglob("*.dcm")}
    call_command("deidentify", *args)
    assert "duplicate" in capsys.readouterr().out
    assert {p: sha(p) for p in (tmp_path / "out").rglob("*.dcm")} == before


def test_errors_are_clear(world, tmp_path):
    with pytest.raises(CommandError, match="not a folder"):
        call_command("deidentify", str(tmp_path / "missing"), str(tmp_path / "out"))
    (tmp_path / "in").mkdir()
    with pytest.raises(CommandError, match="No trial"):
        call_command("deidentify", str(tmp_path / "in"), str(tmp_path / "out"), "--trial", "NOPE")
    with pytest.raises(CommandError, match="No participant"):
        call_command("deidentify", str(tmp_path / "in"), str(tmp_path / "out"), "--trial", "TRIAL-A", "--subject", "999")
