"""Shift DICOM DA, DT and TM values by the participant's offset (whole days, or days and seconds), keeping them valid DICOM."""

from __future__ import annotations

import datetime as dt
import functools
import re

__all__ = ["days_of", "shift_da", "shift_date_time", "shift_dt", "shift_dt_by_seconds", "shift_tm"]

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


# --------------------------------------------------------------------------- times (the seconds part of the offset)

# TM is HH[MM[SS[.F{1,6}]]]; old ACR-NEMA writers used HH:MM:SS.frac.
_TM = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(\.\d{1,6})?)?)?")
_DAY = 86400


def _time_seconds(value: str) -> tuple[int, str] | None:
    """(seconds since midnight, fraction text) of a TM value, or None if it is not a time we can read."""
    match = _TM.fullmatch(value)
    if match is None:
        return None
    hours, minutes, seconds = int(match[1]), int(match[2] or 0), int(match[3] or 0)
    if hours > 23 or minutes > 59 or seconds > 60:
        return None
    return hours * 3600 + minutes * 60 + min(seconds, 59), match[4] or ""


def _format_time(seconds: int, fraction: str) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}{rest // 60:02d}{rest % 60:02d}{fraction}"


@functools.lru_cache(maxsize=8192)
def shift_tm(value: str, seconds: int) -> str | None:
    """Return the TM `value` moved by `seconds` around the clock (a time without its date), or None.

    The result is written to the second (HHMMSS plus the original fraction):
    a time given to the minute moves by a number of seconds too.
    """
    text = value.strip(" \x00")
    if not text:
        return ""
    parsed = _time_seconds(text)
    if parsed is None:
        return None
    moved = (parsed[0] + seconds) % _DAY
    return _format_time(moved, parsed[1])


@functools.lru_cache(maxsize=8192)
def shift_date_time(date: str, time: str, seconds: int) -> tuple[str, str] | None:
    """Move a DA + TM pair together by `seconds`; a time that crosses midnight moves the date. None if unreadable."""
    date_text, time_text = date.strip(" \x00"), time.strip(" \x00")
    match = _DA.fullmatch(date_text)
    parsed = _time_seconds(time_text)
    if match is None or parsed is None:
        return None
    try:
        moment = dt.datetime(int(match[1]), int(match[2]), int(match[3])) + dt.timedelta(seconds=parsed[0] + seconds)
    except (ValueError, OverflowError):
        return None
    if not 1 <= moment.year <= 9999:
        return None
    moved_date = f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
    return moved_date, _format_time(moment.hour * 3600 + moment.minute * 60 + moment.second, parsed[1])


def days_of(seconds: int) -> int:
    """The whole days of an offset in seconds (what a date without its time moves by)."""
    return seconds // _DAY


@functools.lru_cache(maxsize=8192)
def shift_dt_by_seconds(value: str, seconds: int) -> str | None:
    """Return the DT `value` moved by `seconds` (date and time together, UTC offset kept), or None.

    A DT with a time of day moves by the whole offset and is written to the
    second (plus its original fraction); one without (YYYY, YYYYMM,
    YYYYMMDD) moves by the whole days of the offset, keeping its precision.
    """
    text = value.strip(" \x00")
    if not text:
        return ""
    match = _DT.fullmatch(text)
    if match is None:
        return None
    year, month, day, time_part, zone = match.groups()
    if not time_part:
        return shift_dt(text, days_of(seconds))
    if day is None or month is None:
        return None
    whole = time_part.split(".")[0]
    fraction = time_part[len(whole):]
    if len(whole) not in (2, 4, 6):
        return None
    moved = shift_date_time(f"{year}{month}{day}", whole + fraction, seconds)
    if moved is None:
        return None
    return moved[0] + moved[1] + (zone or "")
