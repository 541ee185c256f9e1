"""The folder API and the command line: nested folders, DICOMDIR, duplicates, refusals, worker processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from imaging.deid import DeidContext, LocalContextFactory, deidentify_folder
from tests.imaging import synthetic

SECRET = b"0123456789abcdef0123456789abcdef"
CONTEXT = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                      protocol_id="P1")
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def cd_export(tmp_path: Path) -> Path:
    """A CD export: DICOMDIR, nested folders named after the patient, one non-DICOM and one truncated file."""
    root = tmp_path / "in"
    series = synthetic.make_ct_series(4, rows=16, cols=16).datasets
    for index, ds in enumerate(series):
        folder = root / "DOE_JANE" / ("S1" if index < 2 else "S2")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IM{index}").write_bytes(synthetic.to_bytes(ds))
    (root / "DICOMDIR").write_bytes(synthetic.make_dicomdir())
    (root / "README.TXT").write_bytes(b"Viewer included on this CD.\n")
    (root / "DOE_JANE" / "broken.dcm").write_bytes(synthetic.make_truncated(synthetic.to_bytes(series[0])))
    return root


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cd_export_lands_in_study_series_instance_folders(cd_export, tmp_path, workers):
    out = tmp_path / "out"
    summary = deidentify_folder(cd_export, out, CONTEXT, workers=workers)
    assert summary.counts == {"ok": 4, "skipped": 1, "rejected": 2}
    reasons = {outcome.source: outcome.reason for outcome in summary.outcomes if outcome.status != "ok"}
    assert reasons == {"DICOMDIR": "DICOMDIR", "README.TXT": "not a DICOM file",
                       os.path.join("DOE_JANE", "broken.dcm"): "truncated"}
    written = sorted(out.rglob("*.dcm"))
    assert len(written) == 4 and not list(out.rglob("*.part"))
    for path in written:
        ds = pydicom.dcmread(path)
        assert path.relative_to(out).parts == (ds.StudyInstanceUID, ds.SeriesInstanceUID, f"{ds.SOPInstanceUID}.dcm")
        assert "DOE" not in str(path)
    results = [outcome.result for outcome in summary.outcomes if outcome.status == "ok"]
    assert {result.sha256 for result in results} == {
        __import__("hashlib").sha256(path.read_bytes()).hexdigest() for path in written}


def test_running_again_reports_duplicates_and_writes_nothing_new(cd_export, tmp_path):
    out = tmp_path / "out"
    deidentify_folder(cd_export, out, CONTEXT, workers=1)
    before = {path: path.stat().st_mtime_ns for path in out.rglob("*.dcm")}
    again = deidentify_folder(cd_export, out, CONTEXT, workers=2)
    assert again.counts["duplicate"] == 4 and again.counts["ok"] == 0
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.dcm")} == before


def test_the_same_instance_twice_in_one_run_is_one_file_and_one_duplicate(tmp_path):
    data = synthetic.to_bytes(synthetic.make_ct_series(1, rows=16, cols=16).datasets[0])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.dcm").write_bytes(data)
    (tmp_path / "in" / "b.dcm").write_bytes(data)
    summary = deidentify_folder(tmp_path / "in", tmp_path / "out", CONTEXT, workers=2)
    assert summary.counts == {"ok": 1, "duplicate": 1}


def test_a_different_file_with_the_same_instance_uid_is_refused(tmp_path):
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.dcm").write_bytes(synthetic.to_bytes(ds))
    ds.SeriesDescription = "CHANGED"
    (tmp_path / "in" / "b.dcm").write_bytes(synthetic.to_bytes(ds))
    summary = deidentify_folder(tmp_path / "in", tmp_path / "out", CONTEXT, workers=1)
    assert summary.counts == {"ok": 1, "rejected": 1}
    assert summary.outcomes[1].reason == "a different file with the same SOP Instance UID was already received"


def test_an_output_folder_inside_the_input_is_not_read_back(cd_export):
    summary = deidentify_folder(cd_export, cd_export / "deidentified", CONTEXT, workers=1)
    assert summary.files == 7


def test_a_factory_gives_each_patient_of_a_folder_a_subject(tmp_path):
    (tmp_path / "in").mkdir()
    first = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    roe = synthetic.SyntheticPatient(name="ROE^RICHARD", patient_id="MRN2")
    other = synthetic.make_ct_series(1, rows=16, cols=16, seed=9, patient=roe).datasets[0]
    (tmp_path / "in" / "a.dcm").write_bytes(synthetic.to_bytes(first))
    (tmp_path / "in" / "b.dcm").write_bytes(synthetic.to_bytes(other))
    summary = deidentify_folder(tmp_path / "in", tmp_path / "out", LocalContextFactory(secret=SECRET), workers=2)
    subjects = {outcome.result.subject_code for outcome in summary.outcomes}
    assert len(subjects) == 2 and all(code.startswith("SUBJ-") for code in subjects)


def test_the_command_line_prints_outcomes_and_fails_on_refusals(cd_export, tmp_path):
    secret = tmp_path / "secret"
    command = [sys.executable, "-m", "imaging.deid", str(cd_export), str(tmp_path / "out"),
               "--secret-file", str(secret), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    env.pop("ICTMS_DEID_SECRET", None)
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY, env=env, timeout=120)
    assert run.returncode == 1  # two files were refused
    assert "7 files: 4 ok, 0 duplicate, 1 skipped, 2 rejected" in run.stderr
    assert "not a DICOM file" in run.stdout and "truncated" in run.stdout
    assert secret.exists() and oct(secret.stat().st_mode & 0o777) == "0o600"
    again = subprocess.run([*command, "--quiet"], capture_output=True, text=True, cwd=REPOSITORY, env=env, timeout=120)
    assert "4 duplicate" in again.stderr and again.stdout == ""


def test_the_command_line_prints_flags_and_redactions_and_strict_fails_on_unreviewed_flags(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "ct.dcm").write_bytes(synthetic.to_bytes(synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]))
    (source / "us.dcm").write_bytes(synthetic.to_bytes(synthetic.make_ultrasound(burned_in=True)))
    env = {**os.environ, "ICTMS_DEID_SECRET": SECRET.hex()}
    command = [sys.executable, "manage.py", "deidentify", str(source), str(tmp_path / "out"), "--workers", "1"]
    relaxed = subprocess.run([*command, "--no-clean-pixels"], cwd=REPOSITORY, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "FLAGGED, NOT REDACTED: Clean Pixel Data is off [declared_burned_in, modality:US]" in relaxed.stdout
    assert "1 flagged and not redacted (review)" in relaxed.stderr
    strict = subprocess.run([*command, "--no-clean-pixels", "--strict"], cwd=REPOSITORY, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert strict.returncode == 1
    assert "django" not in strict.stderr.lower()  # the fast path: no Django start-up outside a trial
