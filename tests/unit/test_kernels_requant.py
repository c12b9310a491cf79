"""Fixed-point requantisation against hand-checked values and an independent big-integer reference."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.kernels import reference
from edgesim.kernels.requant import (
    activation_range,
    mbqm_ref,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

I32 = st.integers(-(1 << 31), (1 << 31) - 1)


def test_quantize_multiplier_known_values() -> None:
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(1e-12) == (0, 0)  # shift < -31 flushes to zero
    m, s = quantize_multiplier(0.0123)
    assert abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-9
    # a mantissa that rounds up to 2^31 moves into the exponent
    m, s = quantize_multiplier(1.0 - 2.0 ** -40)
    assert (m, s) == (1 << 30, 1)


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-6, 1e3))
def test_quantize_multiplier_is_accurate(real: float) -> None:
    m, s = quantize_multiplier(real)
    assert (1 << 30) <= m < (1 << 31)
    assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=2 ** -30)


def test_primitives_edge_cases() -> None:
    i32min, i32max = -(1 << 31), (1 << 31) - 1
    assert saturating_rounding_doubling_high_mul(i32min, i32min) == i32max
    # round half away from zero in RoundingDivideByPOT
    assert rounding_divide_by_pot(5, 1) == 3
    assert rounding_divide_by_pot(-5, 1) == -3
    assert rounding_divide_by_pot(-6, 2) == -2  # -1.5 -> -2
    assert rounding_divide_by_pot(6, 2) == 2  # 1.5 -> 2


@settings(max_examples=400, deadline=None)
@given(I32, st.integers(1 << 30, (1 << 31) - 1), st.integers(-31, 0), st.booleans())
def test_mbqm_numba_equals_bigint_reference(x: int, mult: int, shift: int, single: bool) -> None:
    expect = mbqm_ref(x, mult, shift, single)
    assert multiply_by_quantized_multiplier(x, mult, shift, single) == expect
    assert int(reference.mbqm(np.array([x]), mult, shift, single)[0]) == expect


def test_rounding_modes_differ_on_ties() -> None:
    # 3 * 2^30 * 2^-31 * 2^-1 = 0.75*... pick a product landing on a tie after the high-mul
    x, m, s = 12679, 1961975843, -7
    assert mbqm_ref(x, m, s, single_rounding=False) - mbqm_ref(x, m, s, single_rounding=True) == 1


def test_activation_range() -> None:
    assert activation_range("none", 0.1, 3) == (-128, 127)
    assert activation_range("relu", 0.1, -5) == (-5, 127)
    assert activation_range("relu6", 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
