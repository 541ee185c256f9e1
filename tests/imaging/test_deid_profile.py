"""The PS3.15 table as data, the allow-list, and how options resolve each attribute to one action."""
from __future__ import annotations

import csv

import pytest
from pydicom.datadict import tag_for_keyword

from imaging.deid import DeidOptions
from imaging.deid.profile import (
    ALLOWLIST_PATH,
    TABLE_PATH,
    TYPE1_FOR_COMPOUND_CODES,
    TYPE2_FOR_COMPOUND_CODES,
    Action,
    allowlist,
    resolve_profile,
    table_rows,
)
from imaging.deid.rewrite import CODE_BASIC_PROFILE, OPTION_CODES


def action(keyword: str, **options: object) -> Action:
    return resolve_profile(DeidOptions(**options)).actions.get(tag_for_keyword(keyword), Action.REMOVE)


def test_the_table_is_the_2024b_csv_with_every_row_parsed():
    rows = table_rows()
    assert len(rows) == 621
    with TABLE_PATH.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 621
    special = [row.tag_text for row in rows if row.tag is None]
    assert special == ["(50xx,xxxx)", "(60xx,3000)", "(60xx,4000)", "(gggg,eeee)"]
    for row in rows:
        if row.tag is not None and row.keyword:
            assert tag_for_keyword(row.keyword) == row.tag, row.tag_text


def test_the_allowlist_names_real_attributes_that_the_table_does_not_list():
    table_tags = {row.tag for row in table_rows() if row.tag is not None}
    allowed = allowlist()
    assert len(allowed) > 400
    assert not set(allowed) & table_tags
    for line in ALLOWLIST_PATH.read_text().splitlines():
        keyword = line.split("#")[0].strip()
        if keyword and not keyword.startswith("["):
            assert tag_for_keyword(keyword) is not None, keyword


def test_the_type_lists_only_name_attributes_with_compound_codes():
    compound = {row.keyword: row.basic for row in table_rows() if "/" in row.basic}
    for keyword in list(TYPE1_FOR_COMPOUND_CODES) + list(TYPE2_FOR_COMPOUND_CODES):
        assert keyword in compound, keyword


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("PatientName", Action.SUBJECT),
        ("PatientID", Action.SUBJECT),
        ("PatientBirthDate", Action.EMPTY),  # Z, and no option keeps it
        ("PatientSex", Action.SCRUB),  # kept text is scrubbed of the participant's identity
        ("PatientAge", Action.KEEP),
        ("PatientWeight", Action.KEEP),
        ("StudyDate", Action.SHIFT),
        ("AcquisitionDateTime", Action.SHIFT),
        ("StudyTime", Action.SHIFT),  # times move with their dates by days and seconds
        ("TimezoneOffsetFromUTC", Action.REMOVE),
        ("AccessionNumber", Action.EMPTY),
        ("ReferringPhysicianName", Action.EMPTY),
        ("InstitutionName", Action.REMOVE),
        ("StationName", Action.REMOVE),
        ("OperatorsName", Action.EMPTY),  # Type 2 in the RT Series module
        ("ReferencedPerformedProcedureStepSequence", Action.RECURSE),
        ("DeviceSerialNumber", Action.DUMMY),  # Type 1 in Enhanced General Equipment
        ("StudyDescription", Action.CLEAN),
        ("ProtocolName", Action.CLEAN),
        ("ContrastBolusAgent", Action.CLEAN),
        ("RequestAttributesSequence", Action.RECURSE),
        ("ReferencedImageSequence", Action.RECURSE),  # X/Z/U*: kept, UIDs remapped
        ("ReferencedPatientSequence", Action.REMOVE),
        ("OtherPatientIDsSequence", Action.REMOVE),
        ("SOPInstanceUID", Action.UID),
        ("FrameOfReferenceUID", Action.UID),
        ("SOPClassUID", Action.KEEP),
        ("Rows", Action.KEEP),
        ("PixelData", Action.KEEP),
        ("CodeMeaning", Action.SCRUB),
        ("ClinicalTrialSubjectID", Action.REMOVE),  # rewritten from the trial, never taken from the file
        ("IssuerOfPatientID", Action.REMOVE),
    ],
)
def test_default_options_resolve_each_attribute_conservatively(keyword, expected):
    assert action(keyword) is expected


def test_unknown_and_unlisted_attributes_are_removed():
    actions = resolve_profile(DeidOptions()).actions
    assert 0x00100033 not in actions  # Patient's Birth Date in Alternative Calendar: not in the 2024b table
    assert 0x00091001 not in actions  # private
    assert 0x60000010 not in actions  # overlay rows: the overlay goes with its data


def test_full_dates_keep_dates_and_no_temporal_option_empties_or_dummies_them():
    assert action("StudyDate", retain_modified_dates=False, retain_full_dates=True) is Action.KEEP
    assert action("StudyDate", retain_modified_dates=False) is Action.EMPTY
    assert action("ContentDate", retain_modified_dates=False) is Action.DUMMY  # Z/D, Type 1 when enhanced
    assert action("AcquisitionDate", retain_modified_dates=False) is Action.EMPTY  # X/Z, Type 2 in PET
    assert action("InstanceCreationDate", retain_modified_dates=False) is Action.REMOVE


def test_both_date_options_at_once_are_refused():
    with pytest.raises(ValueError):
        DeidOptions(retain_full_dates=True, retain_modified_dates=True)


def test_options_off_remove_what_they_would_have_kept():
    assert action("PatientAge", retain_patient_characteristics=False) is Action.REMOVE
    assert action("StudyDescription", clean_descriptors=False) is Action.REMOVE
    assert action("CodeMeaning", clean_descriptors=False) is Action.SCRUB  # kept for validity, scrubbed anyway
    assert action("SOPInstanceUID", retain_uids=True) is Action.KEEP


def test_blind_site_overrides_institution_and_device_retention():
    assert action("InstitutionName", retain_institution_identity=True) is Action.SCRUB
    assert action("InstitutionName", retain_institution_identity=True, blind_site=True) is Action.REMOVE
    assert action("StationName", retain_device_identity=True) is Action.SCRUB
    assert action("StationName", retain_device_identity=True, blind_site=True) is Action.REMOVE


def test_deidentification_method_codes_match_the_dicom_code_dictionary():
    from pydicom.sr.codedict import codes

    names = [name for name in dir(codes.DCM) if name.endswith(("Option", "Profile"))]
    by_value = {getattr(codes.DCM, name).value: getattr(codes.DCM, name).meaning for name in names}
    assert by_value[CODE_BASIC_PROFILE[0]] == CODE_BASIC_PROFILE[1]
    for _, value, meaning in OPTION_CODES:
        assert by_value[value] == meaning
