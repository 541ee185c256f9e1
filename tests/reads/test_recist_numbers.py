"""Exact arithmetic and output rounding of the RECIST engine (rulebook §4.1)."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from reads.recist.numbers import (
    exact_decimal,
    format_percent,
    json_number,
    json_percent,
    percent_change,
    round_half_away_from_zero,
)


def test_floats_are_read_through_their_shortest_repr():
    assert exact_decimal(105.1) == Decimal("105.1")
    assert exact_decimal(12.3) + exact_decimal(7.45) == Decimal("19.75")


def test_ints_and_decimals_are_kept_exactly():
    assert exact_decimal(70) == Decimal(70)
    assert exact_decimal(Decimal("0.05")) == Decimal("0.05")


@pytest.mark.parametrize("bad", [True, False, "12", None, float("nan"), float("inf"), [1]])
def test_non_numbers_are_rejected(bad):
    with pytest.raises(ValueError):
        exact_decimal(bad)


def test_percent_change_is_exact_and_null_for_a_zero_reference():
    assert percent_change(Decimal("175.1"), Decimal(250)) == Fraction(-2996, 100)
    assert percent_change(Decimal(5), Decimal(0)) is None


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(-2996, 100), Decimal("-30.0")),  # displays -30.0, yet is not PR (R28)
        (Fraction(1997, 100), Decimal("20.0")),  # displays 20.0, yet is not PD
        (Fraction(5, 100), Decimal("0.1")),  # half away from zero
        (Fraction(-5, 100), Decimal("-0.1")),
        (Fraction(225, 100), Decimal("2.3")),  # not banker's rounding
        (Fraction(-225, 100), Decimal("-2.3")),
        (Fraction(4, 100), Decimal("0.0")),
        (Fraction(-4, 100), Decimal("0.0")),  # never a negative zero
        (Fraction(-250, 7), Decimal("-35.7")),
    ],
)
def test_rounding_is_half_away_from_zero_from_the_unrounded_value(value, rounded):
    assert round_half_away_from_zero(value, 1) == rounded
    assert str(round_half_away_from_zero(value, 1)) == str(rounded)


def test_rounding_does_not_round_twice():
    # 0.0449... rounds to 0.0 (double rounding via 0.045 would give 0.1)
    assert round_half_away_from_zero(Fraction(449, 10000), 1) == Decimal("0.0")


def test_json_numbers_are_ints_when_integral():
    assert json_number(Decimal(70)) == 70 and isinstance(json_number(Decimal(70)), int)
    assert isinstance(json_number(Decimal("70.0")), int)
    assert json_number(Decimal("175.1")) == 175.1


def test_json_percentages_are_floats_with_one_decimal_and_no_negative_zero():
    assert json_percent(Fraction(-40)) == -40.0 and isinstance(json_percent(Fraction(-40)), float)
    assert math.copysign(1, json_percent(Fraction(-4, 100))) == 1.0
    assert json_percent(None) is None


def test_percentages_in_explanations_carry_a_sign():
    assert format_percent(Fraction(2440, 100)) == "+24.4 %"
    assert format_percent(Fraction(-30)) == "-30.0 %"
