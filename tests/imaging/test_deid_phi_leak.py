"""Engine-level PHI leak test: every fake value planted in the PS3.15 table attributes is gone from the output."""
from __future__ import annotations

import io
import re

import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian, RLELossless

from imaging.deid import DeidContext, DeidOptions, deidentify_bytes
from tests.imaging import synthetic

SECRET = b"0123456789abcdef0123456789abcdef"
# Under Retain Longitudinal Temporal Information with Modified Dates, dates move by whole days
# and times of day stay: the planted times are the only planted values allowed to remain.
RETAINED_UNDER_DEFAULTS = ("time",)


def context(**options: object) -> DeidContext:
    return DeidContext(
        secret=SECRET, subject_code="101-001", date_offset_days=-4000, sponsor_name="ACME PHARMA",
        protocol_id="ACME-001", protocol_name="A trial", site_id="S01", site_name="Site One",
        timepoint_id="BL", options=DeidOptions(**options),
    )


@pytest.fixture(scope="module")
def phi_series() -> synthetic.SyntheticSeries:
    return synthetic.make_ct_series(3, rows=32, cols=32, phi=True)


def test_the_synthetic_series_plants_values_in_the_table_attributes(phi_series):
    kinds = {value.kind for value in phi_series.planted}
    assert {"text", "uid", "date", "time", "number", "bytes"} <= kinds
    assert len(phi_series.planted) > 700
    original = synthetic.to_bytes(phi_series.datasets[1])
    missing = [value for value in phi_series.planted
               if value not in synthetic.find_planted(original, phi_series.planted)
               and value.where != "SOPInstanceUID" and "Referenced" not in value.where]
    assert len(missing) < 10, missing  # the other slices' own UIDs


@pytest.mark.parametrize("index", [0, 1, 2])
def test_no_planted_value_survives_in_the_output_bytes(phi_series, index):
    data = synthetic.to_bytes(phi_series.datasets[index])
    output, result = deidentify_bytes(data, context())
    leaks = synthetic.find_planted(output, phi_series.planted, allow_kinds=RETAINED_UNDER_DEFAULTS)
    assert not leaks, leaks[:10]
    assert result.private_elements_removed >= 8


def test_no_planted_value_survives_in_the_result_summary(phi_series):
    _, result = deidentify_bytes(synthetic.to_bytes(phi_series.datasets[1]), context())
    text = repr(result.as_dict()).encode()
    assert not synthetic.find_planted(text, phi_series.planted, allow_kinds=RETAINED_UNDER_DEFAULTS)


def test_without_temporal_options_the_times_go_too(phi_series):
    options = {"retain_modified_dates": False, "retain_patient_characteristics": False, "clean_descriptors": False}
    output, _ = deidentify_bytes(synthetic.to_bytes(phi_series.datasets[0]), context(**options))
    assert not synthetic.find_planted(output, phi_series.planted)
    ds = pydicom.dcmread(io.BytesIO(output))
    assert "StudyDescription" not in ds and "PatientAge" not in ds
    assert ds.StudyDate == "" and ds.ContentDate == "19000101"


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless])
def test_no_planted_value_survives_in_other_transfer_syntaxes(syntax):
    series = synthetic.make_ct_series(2, rows=32, cols=32, phi=True, transfer_syntax=syntax, seed=3)
    output, result = deidentify_bytes(synthetic.to_bytes(series.datasets[1]), context())
    assert result.transfer_syntax_uid == syntax
    assert not synthetic.find_planted(output, series.planted, allow_kinds=RETAINED_UNDER_DEFAULTS)


def test_no_planted_value_survives_without_file_meta():
    series = synthetic.make_ct_series(1, rows=32, cols=32, phi=True, seed=4)
    output, _ = deidentify_bytes(synthetic.make_file_without_meta(series.datasets[0]), context())
    assert not synthetic.find_planted(output, series.planted, allow_kinds=RETAINED_UNDER_DEFAULTS)


def test_descriptors_keep_their_words_without_the_planted_identifiers(phi_series):
    output, result = deidentify_bytes(synthetic.to_bytes(phi_series.datasets[0]), context())
    ds = pydicom.dcmread(io.BytesIO(output))
    assert ds.StudyDescription == "CHEST ABDOMEN PELVIS"
    assert ds.AdditionalPatientHistory == "CHEST ABDOMEN PELVIS"
    assert result.series_description == "CHEST ABDOMEN PELVIS"
    assert ds.AdmittingDiagnosesCodeSequence[0].CodeMeaning == "Tissue"


def test_retained_patient_characteristics_are_the_planted_ordinary_values(phi_series):
    output, result = deidentify_bytes(synthetic.to_bytes(phi_series.datasets[0]), context())
    ds = pydicom.dcmread(io.BytesIO(output))
    assert (ds.PatientSex, ds.PatientAge, str(ds.PatientSize), str(ds.PatientWeight)) == ("F", "064Y", "1.68", "70")
    assert (result.patient_sex, result.patient_age) == ("F", "064Y")
    assert ds.PatientBirthDate == ""


def test_nested_sequences_keep_references_and_lose_identifiers(phi_series):
    output, _ = deidentify_bytes(synthetic.to_bytes(phi_series.datasets[1]), context())
    ds = pydicom.dcmread(io.BytesIO(output))
    for item in ds.ReferencedImageSequence:
        assert re.fullmatch(r"2\.25\.\d+", item.ReferencedSOPInstanceUID)
        assert "InstitutionName" not in item
        assert not any(element.tag.is_private for element in item)
    assert "ReferencedPatientSequence" not in ds
    assert "OtherPatientIDsSequence" not in ds
    request = ds.RequestAttributesSequence[0]
    assert request.AccessionNumber == ""
    assert "RequestedProcedureID" not in request
    assert request.RequestedProcedureDescription == "CHEST ABDOMEN PELVIS"
