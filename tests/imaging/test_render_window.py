"""Window/level arithmetic of imaging.viewer.render against hand-computed pixels (PS3.3 C.11.2.1.2)."""

import numpy as np
import pytest

from imaging.viewer.render import WINDOW_PRESETS, apply_window


# c = 40, w = 400, LINEAR: the ramp runs from c - 0.5 - (w-1)/2 = -160 to c - 0.5 + (w-1)/2 = 239,
# y = ((x - 39.5) / 399 + 0.5) * 255, rounded half up.
@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (-1000, 0),
        (-160, 0),  # x <= lower limit -> ymin
        (-159, 1),  # (-198.5/399 + 0.5) * 255 = 0.639
        (0, 102),  # (-39.5/399 + 0.5) * 255 = 102.26
        (40, 128),  # (0.5/399 + 0.5) * 255 = 127.82
        (238, 254),  # (198.5/399 + 0.5) * 255 = 254.36
        (239, 255),  # exactly the upper limit: formula gives 255
        (240, 255),  # x > upper limit -> ymax
        (3000, 255),
    ],
)
def test_linear_window_matches_the_standard_formula(x: int, expected: int) -> None:
    assert apply_window(np.array([x]), 40, 400)[0] == expected


def test_linear_window_over_the_full_12_bit_range_maps_ends_to_black_and_white() -> None:
    # c = 2048, w = 4096: limits are 0 and 4095.
    out = apply_window(np.array([0, 1, 2048, 4094, 4095]), 2048, 4096)
    # 1 -> (1 - 2047.5)/4095 + 0.5 = 0.000244 -> 0.06; 2048 -> 127.59; 4094 -> 254.94
    assert out.tolist() == [0, 0, 128, 255, 255]


def test_linear_window_of_width_one_is_a_threshold_at_center_minus_half() -> None:
    out = apply_window(np.array([99, 99.5, 99.6, 100, 101]), 100, 1)
    assert out.tolist() == [0, 0, 255, 255, 255]


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (-160, 0),  # x <= c - w/2
        (-159, 1),  # (-199/400 + 0.5) * 255 = 0.6375
        (40, 128),  # 127.5 rounds half up
        (139, 191),  # (99/400 + 0.5) * 255 = 190.61
        (240, 255),
        (241, 255),
    ],
)
def test_linear_exact_window_matches_the_standard_formula(x: int, expected: int) -> None:
    assert apply_window(np.array([x]), 40, 400, function="LINEAR_EXACT")[0] == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (40, 128),  # 255 / 2 = 127.5
        (140, 186),  # 255 / (1 + e^-1) = 186.42
        (-60, 69),  # 255 / (1 + e^1) = 68.58
        (-100000, 0),  # exp overflow saturates to black without a warning
    ],
)
def test_sigmoid_window_matches_the_standard_formula(x: int, expected: int) -> None:
    with np.errstate(all="raise"):
        assert apply_window(np.array([x]), 40, 400, function="SIGMOID")[0] == expected


def test_window_output_is_uint8_with_the_input_shape() -> None:
    out = apply_window(np.zeros((3, 4), dtype=np.int16), 0, 10)
    assert out.dtype == np.uint8
    assert out.shape == (3, 4)


def test_window_accepts_float_values_and_maps_nan_to_black() -> None:
    out = apply_window(np.array([np.nan, 0.5, 2.0], dtype=np.float32), 1.0, 2.0, function="LINEAR_EXACT")
    # 0.5 -> (-0.5/2 + 0.5) * 255 = 63.75; 2.0 -> (1/2 + 0.5) * 255 = 255
    assert out.tolist() == [0, 64, 255]


@pytest.mark.parametrize(("function", "width"), [("LINEAR", 0.5), ("LINEAR_EXACT", 0), ("SIGMOID", -1)])
def test_window_rejects_a_width_outside_the_function_domain(function: str, width: float) -> None:
    with pytest.raises(ValueError):
        apply_window(np.array([0]), 0, width, function=function)


def test_window_rejects_an_unknown_function() -> None:
    with pytest.raises(ValueError):
        apply_window(np.array([0]), 0, 10, function="LOG")


def test_presets_hold_the_documented_ct_windows() -> None:
    windows = {key: (p.center, p.width) for key, p in WINDOW_PRESETS.items()}
    assert windows == {
        "soft-tissue": (40, 400),
        "lung": (-600, 1500),
        "bone": (400, 1800),
        "liver": (60, 160),
        "brain": (40, 80),
    }
