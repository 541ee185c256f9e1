"""Real DICOM nobody on the team wrote (pydicom's own test files) and validity checked by dicom3tools' dciodvfy."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from imaging.deid import DeidContext, DeidError, deidentify_bytes
from tests.imaging import synthetic

SECRET = b"0123456789abcdef0123456789abcdef"
CONTEXT = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                      protocol_id="P1", protocol_name="A trial", timepoint_id="BL")
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
REAL_FILES = sorted(path for path in TEST_FILES.glob("*.dcm"))

# pydicom's deliberately broken files, and why they are refused.
EXPECTED_REFUSALS = {
    "MR_truncated.dcm": "truncated",
    "rtplan_truncated.dcm": "truncated",
    "SC_rgb_jpeg.dcm": "damaged pixel data element",  # pixel data in implicit VR inside an explicit file
    "no_meta.dcm": "not a DICOM file",  # starts one byte off: pydicom cannot read it either
    "UN_sequence.dcm": "the file has no SOP Instance UID",  # fragments made to test one feature
    "empty_charset_LEI.dcm": "the file has no SOP Class UID",
    "meta_missing_tsyntax.dcm": "the file has no SOP Class UID",
    "nested_priv_SQ.dcm": "the file has no SOP Class UID",
    "no_meta_group_length.dcm": "the file has no SOP Instance UID",
    "priv_SQ.dcm": "the file has no SOP Instance UID",
}
_IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName",
                "ReferringPhysicianName", "OperatorsName", "StationName", "PerformingPhysicianName")


def identifying_values(ds: pydicom.Dataset) -> set[bytes]:
    # An institution named after the vendor ("TOSHIBA") legitimately stays inside Manufacturer ("TOSHIBA_MEC").
    kept = {str(ds.get(keyword, "") or "").strip() for keyword in ("Manufacturer", "ManufacturerModelName")}
    values = set()
    for keyword in _IDENTIFYING:
        value = str(ds.get(keyword, "") or "").strip()
        if len(value) >= 4 and not any(value in other for other in kept | {"101-001", "ANONYMIZED"}):
            values.add(value.encode("latin-1", "ignore"))
    return values


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda path: path.name)
def test_real_files_are_deidentified_or_refused_for_a_stated_reason(path):
    data = path.read_bytes()
    if path.name in EXPECTED_REFUSALS:
        with pytest.raises(DeidError) as refused:
            deidentify_bytes(data, CONTEXT)
        assert refused.value.reason == EXPECTED_REFUSALS[path.name]
        return
    output, result = deidentify_bytes(data, CONTEXT)
    original = pydicom.dcmread(io.BytesIO(data), force=True)
    back = pydicom.dcmread(io.BytesIO(output))
    assert back.PatientIdentityRemoved == "YES"
    assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID == result.sop_instance_uid
    if "PixelData" in original and not result.burned_in.redacted:  # redacted pixels: test_deid_corpus.py
        assert back.PixelData == original.PixelData
    for value in identifying_values(original):
        assert value not in output, value
    assert original.SOPInstanceUID.encode() not in output


def _errors(path: Path) -> set[str]:
    """dciodvfy's error lines, with values (UIDs, quoted values) blanked so that changed values compare equal."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = {line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")}
    return {re.sub(r"\b\d+(?:\.\d+)+\b", "<value>", line) for line in lines}


needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) is not installed")


@needs_dciodvfy
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda path: path.name)
def test_dciodvfy_finds_no_new_error_in_real_files(path, tmp_path):
    try:
        output, _ = deidentify_bytes(path.read_bytes(), CONTEXT)
    except DeidError:
        return
    target = tmp_path / "deid.dcm"
    target.write_bytes(output)
    new = _errors(target) - _errors(path)
    # SR references: dciodvfy checks them against evidence the original did not list either; the
    # message names the (changed) UID, so only the count of such lines is compared.
    assert not {line for line in new if "not listed in CurrentRequestedProcedureEvidenceSequence" not in line}, new


@needs_dciodvfy
@pytest.mark.parametrize("maker", ["ct", "ct_contrast", "ultrasound", "secondary_capture", "phi_ct"])
def test_dciodvfy_finds_no_new_error_in_synthetic_files(maker, tmp_path):
    ds = {
        "ct": lambda: synthetic.make_ct_series(2, rows=32, cols=32).datasets[1],
        "ct_contrast": lambda: synthetic.make_ct_series(1, rows=32, cols=32, contrast=True).datasets[0],
        "ultrasound": lambda: synthetic.make_ultrasound(),
        "secondary_capture": lambda: synthetic.make_secondary_capture(),
        "phi_ct": lambda: synthetic.make_ct_series(2, rows=32, cols=32, phi=True).datasets[1],
    }[maker]()
    source, target = tmp_path / "original.dcm", tmp_path / "deid.dcm"
    source.write_bytes(synthetic.to_bytes(ds))
    output, _ = deidentify_bytes(source.read_bytes(), CONTEXT)
    target.write_bytes(output)
    assert not _errors(target) - _errors(source)
    if maker == "ct":
        assert not _errors(source)  # the generator itself writes a valid CT image
