"""Shift DICOM DA and DT values by a whole number of days, keeping them valid DICOM."""

from __future__ import annotations

import datetime as dt
import functools
import re

__all__ = ["shift_da", "shift_dt"]

# DA is YYYYMMDD; old ACR-NEMA writers used YYYY.MM.DD, which we accept and
# normalise.
_DA = re.compile(r"(\d{4})\.?(\d{2})\.?(\d{2})")
# DT is YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]; only the date part moves.
_DT = re.compile(r"(\d{4})(\d{2})?(\d{2})?((?:\d{2}){0,3}(?:\.\d{1,6})?)([+-]\d{4})?")


def _shifted(year: int, month: int, day: int, days: int) -> dt.date | None:
    try:
        return dt.date(year, month, day) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None


@functools.lru_cache(maxsize=8192)  # the same dates recur in every file of a study
def shift_da(value: str, days: int) -> str | None:
    """Return the DA `value` moved by `days`, or None if it is not a date we can read.

    Empty stays empty. None tells the caller to empty the element instead of
    keeping an unreadable (and possibly identifying) value.
    """
    text = value.strip(" \x00")
    if not text:
        return ""
    match = _DA.fullmatch(text)
    if match is None:
        return None
    moved = _shifted(int(match[1]), int(match[2]), int(match[3]), days)
    if moved is None or not 1 <= moved.year <= 9999:
        return None
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"


@functools.lru_cache(maxsize=8192)
def shift_dt(value: str, days: int) -> str | None:
    """Return the DT `value` with its date part moved by `days` (time and UTC offset kept), or None.

    A partial date keeps its precision: YYYYMM is shifted from the middle of
    the month and YYYY from the middle of the year, so the result is a valid
    DT of the same precision.
    """
    text = value.strip(" \x00")
    if not text:
        return ""
    match = _DT.fullmatch(text)
    if match is None:
        return None
    year, month, day, time_part, zone = match.groups()
    if day is not None and month is None:
        return None
    if day is not None:
        moved = _shifted(int(year), int(month), int(day), days)
        if moved is None or not 1 <= moved.year <= 9999:
            return None
        date_text = f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"
    elif month is not None:
        if time_part:
            return None  # a time needs a full date before it
        moved = _shifted(int(year), int(month), 15, days)
        if moved is None or not 1 <= moved.year <= 9999:
            return None
        date_text = f"{moved.year:04d}{moved.month:02d}"
    else:
        if time_part:
            return None
        moved = _shifted(int(year), 7, 1, days)
        if moved is None or not 1 <= moved.year <= 9999:
            return None
        date_text = f"{moved.year:04d}"
    return date_text + (time_part or "") + (zone or "")
