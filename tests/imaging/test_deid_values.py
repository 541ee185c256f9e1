"""Value-level rules: date shifting, descriptor scrubbing, UID remapping, date offsets and patient keys."""
from __future__ import annotations

import re

import pytest

from imaging.deid import DeidContext, DeidOptions, LocalContextFactory, participant_date_offset, patient_key, remap_uid
from imaging.deid.dates import shift_da, shift_dt
from imaging.deid.descriptors import scrubber_for, split_identifying_value

SECRET = b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240314", -1, "20240313"),
        ("20240301", -1, "20240229"),  # leap day
        ("20240314", -366, "20230314"),
        ("2024.03.14", -1, "20240313"),  # ACR-NEMA layout, normalised
        ("20240314 ", 0, "20240314"),
        ("", -10, ""),
        ("2024031", -1, None),
        ("20241340", -1, None),  # not a date: emptied by the caller, never kept
        ("UNKNOWN", -1, None),
        ("00010101", -1, None),  # would leave the valid range
    ],
)
def test_da_values_shift_by_whole_days_or_are_refused(value, days, expected):
    assert shift_da(value, days) == expected


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240314083015.123456", -1, "20240313083015.123456"),
        ("20240314083015+0100", -31, "20240212083015+0100"),
        ("20240314", -1, "20240313"),
        ("2024031408", -1, "2024031308"),
        ("202403", -31, "202402"),  # month precision kept
        ("2024", -400, "2023"),  # year precision kept
        ("2024XX", -1, None),
        ("2024031", -1, None),
    ],
)
def test_dt_values_shift_their_date_and_keep_time_and_offset(value, days, expected):
    assert shift_dt(value, days) == expected


def test_descriptors_keep_their_meaning_and_lose_identifying_values():
    values = split_identifying_value("DOE^JOHN^Q") + split_identifying_value("MRN12345") + ["Saint Elsewhere"]
    scrub = scrubber_for(values)
    assert scrub("CT CHEST DOE JOHN MRN12345") == "CT CHEST"
    assert scrub("ct_doe_john_abdomen") == "ct abdomen"
    assert scrub("Brain MRI at saint elsewhere 2019-03-17") == "Brain MRI at"
    assert scrub("FOLLOW UP 17/03/2019 call 555 123 4567") == "FOLLOW UP call"
    assert scrub("ID 12345678 reported by jdoe@example.org") == "ID reported by"
    assert scrub("CLINICAL TRIAL 120 kV 5.0 mm") == "CLINICAL TRIAL 120 kV 5.0 mm"


def test_short_name_parts_only_match_whole_words():
    scrub = scrubber_for(split_identifying_value("LI^AN"))
    assert scrub("CLINICAL LI AN SCAN") == "CLINICAL SCAN"


def test_uid_remapping_is_deterministic_keyed_and_valid():
    first = remap_uid(SECRET, "1.2.3.4.5")
    assert first == remap_uid(SECRET, "1.2.3.4.5")
    assert first != remap_uid(SECRET, "1.2.3.4.6")
    assert first != remap_uid(b"another secret, 32 bytes long!!!", "1.2.3.4.5")
    assert re.fullmatch(r"2\.25\.[1-9][0-9]*", first)
    assert len(first) <= 64
    assert int(first.split(".")[2]) < 2**128


def test_participant_date_offset_is_stable_negative_and_within_bounds():
    offsets = {participant_date_offset(SECRET, f"S-{index:03d}") for index in range(200)}
    assert all(-3650 <= offset <= -365 for offset in offsets)
    assert len(offsets) > 150
    assert participant_date_offset(SECRET, "S-001") == participant_date_offset(SECRET, "S-001")
    assert -20 <= participant_date_offset(SECRET, "S-001", max_days=20, min_days=1) <= -1


def test_patient_key_ignores_formatting_but_not_identity():
    key = patient_key(SECRET, "MRN1", "Doe^John", "19600101")
    assert key == patient_key(SECRET, " MRN1 ", "DOE^JOHN^^^", "19600101")
    assert key != patient_key(SECRET, "MRN2", "Doe^John", "19600101")
    assert key != patient_key(b"another secret, 32 bytes long!!!", "MRN1", "Doe^John", "19600101")
    assert "DOE" not in key and "MRN1" not in key


def test_context_keeps_its_secret_out_of_repr_and_checks_values():
    context = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-400, sponsor_name="ACME",
                          protocol_id="P1")
    assert SECRET.decode() not in repr(context)
    with pytest.raises(ValueError):
        DeidContext(secret=b"short", subject_code="101", date_offset_days=-400, sponsor_name="A", protocol_id="P")
    with pytest.raises(ValueError):
        DeidContext(secret=SECRET, subject_code="", date_offset_days=-400, sponsor_name="A", protocol_id="P")
    with pytest.raises(ValueError):
        DeidContext(secret=SECRET, subject_code="101\\2", date_offset_days=-400, sponsor_name="A", protocol_id="P")
    with pytest.raises(ValueError):  # a zero shift would label real dates "MODIFIED"
        DeidContext(secret=SECRET, subject_code="101", date_offset_days=0, sponsor_name="A", protocol_id="P")
    DeidContext(secret=SECRET, subject_code="101", date_offset_days=0, sponsor_name="A", protocol_id="P",
                options=DeidOptions(retain_modified_dates=False))


def test_local_factory_gives_each_patient_a_stable_code_and_offset():
    factory = LocalContextFactory(secret=SECRET)
    key = patient_key(SECRET, "MRN1", "DOE^JOHN", "19600101")
    first, again = factory(key), factory(key)
    assert first == again
    assert first.subject_code.startswith("SUBJ-") and len(first.subject_code) == 15
    assert first.subject_code != factory(patient_key(SECRET, "MRN2", "DOE^JANE", "19600101")).subject_code
    assert -3650 <= first.date_offset_days <= -365
