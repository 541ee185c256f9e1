"""Exact numbers for the RECIST engine: parsing, percentage arithmetic and output rounding (rulebook §4.1)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import floor

ZERO = Decimal(0)


def exact_decimal(value: object) -> Decimal:
    """Turn a JSON number (int, float or Decimal) into an exact Decimal.

    Floats go through their shortest repr, so 105.1 becomes Decimal("105.1") and not the binary
    approximation; this is what makes -29.96 % stay above the PR threshold (rulebook §4.1, R28).
    Raises ValueError for booleans, strings, NaN and infinities.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"not a number: {value!r}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def percent_change(value: Decimal, reference: Decimal) -> Fraction | None:
    """Exact (value - reference) / reference x 100; None when the reference is 0 (rulebook §4.1)."""
    if reference == 0:
        return None
    return (Fraction(value) - Fraction(reference)) * 100 / Fraction(reference)


def round_half_away_from_zero(value: Fraction, places: int = 1) -> Decimal:
    """Round an exact value for display only: half away from zero, from the unrounded value (§4.1).

    Always returns `places` decimals, and never a negative zero.
    """
    scaled = abs(value) * 10**places
    magnitude = floor(scaled + Fraction(1, 2))
    if magnitude == 0:
        return Decimal(0).scaleb(-places)
    sign = -1 if value < 0 else 1
    return Decimal(sign * magnitude).scaleb(-places)


def json_number(value: Decimal) -> int | float:
    """An exact millimetre or week value as JSON wants it: 70, not 70.0; 175.1 stays 175.1."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def json_percent(value: Fraction | None) -> float | None:
    """A percentage for output: a float with one decimal, rounded half away from zero."""
    if value is None:
        return None
    return float(round_half_away_from_zero(value, 1))


def format_mm(value: Decimal) -> str:
    """Millimetres for explanations: "56", "175.1" (no exponent, no trailing zeros)."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return str(int(normalized))
    return format(normalized, "f")


def format_signed_mm(value: Decimal) -> str:
    """A signed millimetre difference for explanations: "+11", "-3.5", "0"."""
    text = format_mm(abs(value))
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"-{text}"
    return text


def format_percent(value: Fraction) -> str:
    """A signed percentage for explanations, rounded as for output: "+24.4 %", "-30.0 %", "0.0 %"."""
    rounded = round_half_away_from_zero(value, 1)
    if rounded > 0:
        return f"+{rounded} %"
    return f"{rounded} %"
