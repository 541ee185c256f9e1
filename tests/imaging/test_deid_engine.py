"""What the engine writes: remapped UIDs and references, shifted dates, the trial record, QC flags, the summary."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import warnings

import pydicom
import pytest
from pydicom.dataelem import DataElement

from imaging.deid import (
    DeidContext,
    DeidOptions,
    LocalContextFactory,
    PrivateTagRule,
    deidentify_bytes,
    deidentify_file,
    patient_key,
    remap_uid,
)
from tests.imaging import synthetic

SECRET = b"0123456789abcdef0123456789abcdef"
OFFSET = -1000


def context(**options: object) -> DeidContext:
    return DeidContext(
        secret=SECRET, subject_code="101-001", date_offset_days=OFFSET, sponsor_name="ACME PHARMA",
        protocol_id="ACME-001", protocol_name="A trial of something", site_id="S01", site_name="Site One",
        timepoint_id="W12", timepoint_description="Week 12", coordinating_center_name="Central Lab",
        options=DeidOptions(**options),
    )


def run(ds: pydicom.Dataset, ctx: DeidContext | None = None) -> tuple[pydicom.Dataset, object, bytes]:
    output, result = deidentify_bytes(synthetic.to_bytes(ds), ctx or context())
    return pydicom.dcmread(io.BytesIO(output)), result, output


@pytest.fixture(scope="module")
def series() -> list[pydicom.Dataset]:
    return synthetic.make_ct_series(4, rows=32, cols=32, contrast=True).datasets


def test_uids_are_remapped_deterministically_and_references_follow(series):
    outputs = [run(ds)[0] for ds in series]
    assert len({ds.StudyInstanceUID for ds in outputs}) == 1
    assert len({ds.SeriesInstanceUID for ds in outputs}) == 1
    assert len({ds.FrameOfReferenceUID for ds in outputs}) == 1
    assert len({ds.SOPInstanceUID for ds in outputs}) == 4
    for original, output in zip(series, outputs, strict=True):
        assert output.SOPInstanceUID == remap_uid(SECRET, original.SOPInstanceUID)
        assert output.file_meta.MediaStorageSOPInstanceUID == output.SOPInstanceUID
        assert output.SOPClassUID == original.SOPClassUID  # a class is not an instance
        assert output.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    for previous, current in itertools.pairwise(outputs):
        assert current.ReferencedImageSequence[0].ReferencedSOPInstanceUID == previous.SOPInstanceUID
    again = run(series[2])[0]
    assert again.SOPInstanceUID == outputs[2].SOPInstanceUID


def test_output_is_byte_for_byte_reproducible(series):
    first = run(series[1])[2]
    assert run(series[1])[2] == first


def moved_pair(date: str, time: str) -> tuple[str, str]:
    """What a date + time pair becomes: both moved by the whole offset, days and seconds."""
    seconds = context().time_offset_seconds
    moment = dt.datetime.strptime(date + time[:6], "%Y%m%d%H%M%S") + dt.timedelta(days=OFFSET, seconds=seconds)
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S") + time[6:]


def test_dates_and_times_move_together_by_the_participant_offset(series):
    original = series[0]
    ds, result, _ = run(original)
    moved_date, moved_time = moved_pair(original.StudyDate, original.StudyTime)
    assert ds.StudyDate == ds.SeriesDate == ds.ContentDate == ds.AcquisitionDate == moved_date
    assert result.study_date == moved_date
    assert ds.StudyTime == moved_time != original.StudyTime
    assert ds.PatientBirthDate == ""
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


def shifted(date: str) -> str:
    return (dt.datetime.strptime(date, "%Y%m%d") + dt.timedelta(days=OFFSET)).strftime("%Y%m%d")


def test_datetimes_and_multiple_or_broken_dates_stay_valid():
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    ds.AcquisitionDateTime = "20240314101010.5+0100"
    ds.add(DataElement(0x00189151, "DT", "2024"))  # FrameReferenceDateTime, year precision
    ds.add(DataElement(0x00321000, "DA", ["20240301", "20240302"]))  # ScheduledStudyStartDate, multi-valued
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.ContentDate = "NOTADATE"
        out, _, _ = run(ds)
    assert out.AcquisitionDateTime == "".join(moved_pair("20240314", "101010.5")) + "+0100"
    assert out.FrameReferenceDateTime == "2021"
    assert list(out.ScheduledStudyStartDate) == [shifted("20240301"), shifted("20240302")]
    assert out.ContentDate == ""  # unreadable: emptied, never passed through
    for element in out.iterall():
        if element.VR == "DA" and element.value:
            for value in element.value if element.VM > 1 else [element.value]:
                dt.datetime.strptime(value, "%Y%m%d")


def test_the_trial_record_and_method_are_written(series):
    ds, result, _ = run(series[0])
    assert ds.PatientName == "101-001" and ds.PatientID == "101-001"
    assert ds.ClinicalTrialSubjectID == "101-001"
    assert ds.ClinicalTrialSponsorName == "ACME PHARMA"
    assert ds.ClinicalTrialProtocolID == "ACME-001"
    assert ds.ClinicalTrialProtocolName == "A trial of something"
    assert (ds.ClinicalTrialSiteID, ds.ClinicalTrialSiteName) == ("S01", "Site One")
    assert (ds.ClinicalTrialTimePointID, ds.ClinicalTrialTimePointDescription) == ("W12", "Week 12")
    assert ds.ClinicalTrialCoordinatingCenterName == "Central Lab"
    assert ds.PatientIdentityRemoved == "YES"
    assert list(ds.DeidentificationMethod) == [
        "ICTMS PS3.15 Basic Profile",
        "Retain Longitudinal Temporal Information with Modified Dates",
        "Retain Patient Characteristics",
        "Clean Descriptors",
        "Descriptors Restricted To An Imaging Vocabulary",
        "Dates And Times Shifted By Days And Seconds",
    ]
    codes = [(item.CodeValue, item.CodingSchemeDesignator) for item in ds.DeidentificationMethodCodeSequence]
    assert codes == [("113100", "DCM"), ("113107", "DCM"), ("113108", "DCM"), ("113105", "DCM"),
                     ("DEID-DESC-VOCAB", "99ICTMS"), ("DEID-TIME-SHIFT", "99ICTMS")]
    assert result.subject_code == "101-001"


def test_blind_site_withholds_site_institution_and_devices(series):
    ds, _, output = run(series[0], context(blind_site=True, retain_institution_identity=True,
                                           retain_device_identity=True))
    assert ds.ClinicalTrialSiteID == "" and ds.ClinicalTrialSiteName == ""
    assert "InstitutionName" not in ds and "StationName" not in ds
    assert ds.DeviceSerialNumber == "ANONYMIZED"
    assert b"Site One" not in output and b"SYNTHETIC HOSPITAL" not in output and b"SYNTH01" not in output
    assert "Site Identity Withheld" in list(ds.DeidentificationMethod)


def test_retained_institution_identity_keeps_the_institution(series):
    ds, _, _ = run(series[0], context(retain_institution_identity=True))
    assert ds.InstitutionName == "SYNTHETIC HOSPITAL"
    assert "113112" in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]


def test_private_elements_are_removed_except_the_safe_list():
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x0C, "IS", "1000")  # b-value: on the safe list
    block.add_new(0x10, "LO", "DOE^JOHN")  # not on it
    other = ds.private_block(0x0029, "OTHER VENDOR", create=True)
    other.add_new(0x0C, "IS", "1000")  # same offset, other creator
    rule = PrivateTagRule("SIEMENS MR HEADER", 0x0019, 0x0C)
    out, result, output = run(ds, context(safe_private_tags=(rule,)))
    kept = out.private_block(0x0019, "SIEMENS MR HEADER")
    assert kept[0x0C].value == 1000
    assert 0x0019100C in out and 0x00191010 not in out
    assert not any(element.tag.group == 0x0029 for element in out)
    assert b"DOE^JOHN" not in output
    assert result.private_elements_removed == 3
    assert "113111" in [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    plain, _, _ = run(ds)
    assert not any(element.tag.is_private for element in plain)


def test_qc_flags_name_burned_in_annotation_ultrasound_and_screen_captures():
    _, result, _ = run(synthetic.make_ultrasound(burned_in=True))
    assert set(result.qc_flags) == {"burned_in_annotation", "ultrasound"}
    _, result, _ = run(synthetic.make_secondary_capture())
    assert result.qc_flags == ("secondary_capture",)
    _, result, _ = run(synthetic.make_ct_series(1, rows=16, cols=16).datasets[0])
    assert result.qc_flags == ()


def test_summary_carries_the_key_header_values_without_phi(series):
    original = series[2]
    ds, result, output = run(original)
    assert result.study_instance_uid == ds.StudyInstanceUID
    assert result.sop_instance_uid == ds.SOPInstanceUID
    assert result.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert (result.modality, result.series_number, result.instance_number) == ("CT", 2, 3)
    assert (result.rows, result.columns, result.number_of_frames, result.bits_allocated) == (32, 32, 1, 16)
    assert result.slice_thickness == 1.25 and result.pixel_spacing == (0.7, 0.7)
    assert result.image_position_patient == tuple(float(v) for v in original.ImagePositionPatient)
    assert result.image_orientation_patient == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert result.has_contrast and result.contrast_bolus_agent == "IOHEXOL 350"
    assert result.series_description == "CHEST ABDOMEN 1.25MM"  # imaging words and a number with its unit
    assert result.size == len(output)
    import hashlib

    assert result.sha256 == hashlib.sha256(output).hexdigest()
    assert result.original_patient_key == patient_key(SECRET, "MRN000001", "DOE^JANE", "19600101")
    text = repr(result.as_dict())
    for value in ("DOE", "JANE", "MRN000001", "19600101", "SYNTHETIC HOSPITAL", original.SOPInstanceUID):
        assert value not in text


def test_a_context_factory_gets_the_patient_key_and_chooses_the_context():
    factory = LocalContextFactory(secret=SECRET)
    first = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    roe = synthetic.SyntheticPatient(name="ROE^RICHARD", patient_id="MRN2")
    other = synthetic.make_ct_series(1, rows=16, cols=16, seed=2, patient=roe).datasets[0]
    one, result_one, _ = run(first, factory)  # type: ignore[arg-type]
    two, result_two, _ = run(other, factory)  # type: ignore[arg-type]
    assert one.PatientID.startswith("SUBJ-") and one.PatientID != two.PatientID
    assert result_one.original_patient_key != result_two.original_patient_key
    assert one.PatientID == factory(result_one.original_patient_key).subject_code


def test_pydicom_never_logs_or_warns_with_file_values(caplog):
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    with warnings.catch_warnings():  # building the bad file makes pydicom complain too; not the point here
        warnings.simplefilter("ignore")
        ds.add(DataElement(0x00081030, "LO", "DOE^JOHN " * 20))  # too long for LO: pydicom would complain
        ds.add(DataElement(0x00200010, "SH", "ACCESSION-TOO-LONG-FOR-SH-DOE"))
        data = synthetic.to_bytes(ds)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        output, _ = deidentify_bytes(data, context())
    messages = " ".join(str(warning.message) for warning in caught) + caplog.text
    assert "DOE" not in messages
    assert b"DOE" not in output


def test_deidentify_file_writes_through_a_temporary_name(tmp_path, series):
    source = tmp_path / "in.dcm"
    source.write_bytes(synthetic.to_bytes(series[0]))
    target = tmp_path / "out.dcm"
    result = deidentify_file(source, target, context())
    assert target.exists() and not (tmp_path / "out.dcm.part").exists()
    assert target.stat().st_size == result.size
    buffer = io.BytesIO()
    assert deidentify_file(source, buffer, context()).sha256 == result.sha256


def test_a_deidentified_file_can_be_deidentified_again_without_duplicates(series):
    first, _, output = run(series[0])
    second_output, _result = deidentify_bytes(output, context())
    second = pydicom.dcmread(io.BytesIO(second_output))
    for tag in (b"\x28\x00\x03\x03", b"\x12\x00\x62\x00", b"\x12\x00\x40\x00", b"\x10\x00\x10\x00"):
        assert second_output.count(tag) == 1, tag
    assert second.PatientIdentityRemoved == "YES" and second.LongitudinalTemporalInformationModified == "MODIFIED"
    assert second.SOPInstanceUID == remap_uid(SECRET, first.SOPInstanceUID)  # remapped again, deterministically
