"""Dates and times move together by the participant's whole offset (days and seconds): intervals exact, order kept."""
from __future__ import annotations

import datetime as dt
import io

import pydicom
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataelem import DataElement

from imaging.deid import DeidContext, DeidOptions, deidentify_bytes, participant_time_offset
from imaging.deid.dates import shift_date_time, shift_dt_by_seconds, shift_tm
from tests.imaging import synthetic

SECRET = b"0123456789abcdef0123456789abcdef"
moments = st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2040, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0))  # DICOM TM to the second; fractions are carried as text
offsets = st.tuples(st.integers(-3650, -365), st.integers(0, 86399)).map(lambda pair: pair[0] * 86400 + pair[1])


def as_pair(moment: dt.datetime) -> tuple[str, str]:
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def parsed(date: str, time: str) -> dt.datetime:
    return dt.datetime.strptime(date + time[:6], "%Y%m%d%H%M%S")


@settings(max_examples=300, deadline=None)
@given(first=moments, second=moments, offset=offsets)
def test_date_time_pairs_keep_their_interval_exactly_and_their_order(first, second, offset):
    one = shift_date_time(*as_pair(first), offset)
    two = shift_date_time(*as_pair(second), offset)
    assert one is not None and two is not None
    assert parsed(*two) - parsed(*one) == second - first
    assert (parsed(*one) < parsed(*two)) == (first < second)
    assert parsed(*one) - first == dt.timedelta(seconds=offset)


@settings(max_examples=200, deadline=None)
@given(moment=moments, offset=offsets, zone=st.sampled_from(["", "+0100", "-0500"]))
def test_date_times_move_by_the_same_offset_as_pairs(moment, offset, zone):
    value = moment.strftime("%Y%m%d%H%M%S") + ".25" + zone
    moved = shift_dt_by_seconds(value, offset)
    assert moved is not None and moved.endswith(zone) and ".25" in moved
    assert dt.datetime.strptime(moved[:14], "%Y%m%d%H%M%S") - moment.replace(microsecond=0) == dt.timedelta(
        seconds=offset)
    assert moved[:14] + ".25" == "".join(shift_date_time(*as_pair(moment), offset)[:1]) + shift_tm(
        moment.strftime("%H%M%S") + ".25", offset)


def test_a_time_that_crosses_midnight_moves_the_date():
    assert shift_date_time("20240314", "233000", 3600) == ("20240315", "003000")
    assert shift_date_time("20240301", "003000", -3600) == ("20240229", "233000")
    assert shift_tm("2330", 3600) == "003000"  # a time alone goes round the clock, written to the second


def test_the_seconds_part_is_secret_stable_and_never_zero():
    seconds = {participant_time_offset(SECRET, f"S-{index}") for index in range(300)}
    assert all(1 <= value <= 86399 for value in seconds) and len(seconds) > 290
    assert participant_time_offset(SECRET, "S-1") == participant_time_offset(SECRET, "S-1")
    assert participant_time_offset(b"another secret of 32 bytes......", "S-1") != participant_time_offset(SECRET, "S-1")


def context(**options: object) -> DeidContext:
    return DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-1000, sponsor_name="ACME",
                       protocol_id="P1", time_offset_seconds=5025, options=DeidOptions(**options))


def run(ds: pydicom.Dataset, **options: object) -> pydicom.Dataset:
    output, _ = deidentify_bytes(synthetic.to_bytes(ds), context(**options))
    return pydicom.dcmread(io.BytesIO(output))


def test_a_participants_visits_keep_their_intervals_and_lose_their_times_of_day():
    visits = []
    for day, time in (("20240105", "081500"), ("20240403", "231000"), ("20240702", "000500")):
        ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
        ds.StudyDate, ds.StudyTime, ds.SeriesDate, ds.SeriesTime = day, time, day, time
        ds.AcquisitionDateTime = day + time
        visits.append((parsed(day, time), run(ds)))
    for original, out in visits:
        assert parsed(out.StudyDate, out.StudyTime) - original == dt.timedelta(days=-1000, seconds=5025)
        assert parsed(out.SeriesDate, out.SeriesTime) == parsed(out.StudyDate, out.StudyTime)
        assert out.AcquisitionDateTime == out.StudyDate + out.StudyTime
        assert out.StudyTime != original.strftime("%H%M%S")
    (first, one), (second, two) = visits[0], visits[1]
    assert parsed(two.StudyDate, two.StudyTime) - parsed(one.StudyDate, one.StudyTime) == second - first


def test_times_not_in_the_table_and_in_sequences_move_too():
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    ds.add(DataElement(0x00143077, "TM", "101500"))  # TimeOfGainCalibration: not in the table, kept, shifted
    ds.add(DataElement(0x00143076, "DA", "20240110"))  # DateOfGainCalibration, its date
    out = run(ds)
    assert (out[0x00143076].value, out[0x00143077].value) == shift_date_time("20240110", "101500", -1000 * 86400 + 5025)


def test_keep_times_is_explicit_and_recorded():
    ds = synthetic.make_ct_series(1, rows=16, cols=16).datasets[0]
    out = run(ds, keep_times=True)
    assert out.StudyTime == ds.StudyTime
    assert out.StudyDate == (dt.datetime.strptime(ds.StudyDate, "%Y%m%d") - dt.timedelta(days=1000)).strftime("%Y%m%d")
    codes = {(item.CodingSchemeDesignator, item.CodeValue) for item in out.DeidentificationMethodCodeSequence}
    assert ("99ICTMS", "DEID-KEEP-TIMES") in codes and ("DCM", "113107") in codes
    assert "Times Of Day Retained" in out.DeidentificationMethod
    shifted = run(ds)
    codes = {(item.CodingSchemeDesignator, item.CodeValue) for item in shifted.DeidentificationMethodCodeSequence}
    assert ("99ICTMS", "DEID-TIME-SHIFT") in codes and ("99ICTMS", "DEID-KEEP-TIMES") not in codes
