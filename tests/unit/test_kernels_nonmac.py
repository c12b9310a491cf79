"""Numba ADD/MUL/pool/mean/softmax/LUT kernels equal their NumPy references; known values for the tables."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.kernels import nonmac, reference
from edgesim.kernels.requant import quantize_multiplier

SEED = st.integers(0, 2**32 - 1)


@settings(max_examples=40, deadline=None)
@given(SEED, st.integers(1, 300), st.booleans())
def test_add_and_mul_equal_reference(seed: int, n: int, single: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=n, dtype=np.int8)
    b = rng.integers(-128, 128, size=n, dtype=np.int8)
    sa, sb, so = rng.uniform(0.01, 0.2, size=3)
    twice = 2 * max(sa, sb)
    am, ash = quantize_multiplier(sa / twice)
    bm, bsh = quantize_multiplier(sb / twice)
    om, osh = quantize_multiplier(twice / ((1 << 20) * so))
    zps = [int(v) for v in rng.integers(-128, 128, size=3)]
    args = (*zps, 20, am, ash, bm, bsh, om, osh, (-128, 127), single)
    np.testing.assert_array_equal(nonmac.add_int8(a, b, *args), reference.add(a, b, *args))
    m, s = quantize_multiplier(sa * sb / so)
    margs = (*zps, m, s, (-100, 120), single)
    np.testing.assert_array_equal(nonmac.mul_int8(a, b, *margs), reference.mul(a, b, *margs))


def test_add_known_value() -> None:
    # equal scales 0.1, output scale 0.2, zero points 0: (10 + 20) * 0.1 / 0.2 = 15
    am, ash = quantize_multiplier(0.5)
    om, osh = quantize_multiplier(0.2 / ((1 << 20) * 0.2))
    y = nonmac.add_int8(np.array([10], np.int8), np.array([20], np.int8), 0, 0, 0, 20, am, ash, am, ash, om, osh,
                        (-128, 127), False)
    assert int(y[0]) == 15


@settings(max_examples=40, deadline=None)
@given(SEED, st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.booleans())
def test_pool_equals_reference(seed: int, kh: int, kw: int, sh: int, sw: int, is_max: bool) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(kh, 10)), int(rng.integers(kw, 10))
    pt, pl = int(rng.integers(0, kh)), int(rng.integers(0, kw))
    oh, ow = (h + 2 * pt - kh) // sh + 1, (w + 2 * pl - kw) // sw + 1
    x = rng.integers(-128, 128, size=(2, h, w, 3), dtype=np.int8)
    args = ((kh, kw), (sh, sw), (pt, pl), (oh, ow), is_max, (-120, 127))
    np.testing.assert_array_equal(nonmac.pool2d_int8(x, *args), reference.pool2d(x, *args))


def test_avg_pool_rounds_half_away_from_zero() -> None:
    x = np.array([1, 2, -1, -2], dtype=np.int8).reshape(1, 1, 4, 1)
    y = nonmac.pool2d_int8(x, (1, 2), (1, 2), (0, 0), (1, 2), False, (-128, 127))
    assert y.ravel().tolist() == [2, -2]  # 1.5 -> 2, -1.5 -> -2


@settings(max_examples=30, deadline=None)
@given(SEED, st.booleans())
def test_mean_equals_reference(seed: int, single: bool) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(2, int(rng.integers(1, 8)), int(rng.integers(1, 8)), 5), dtype=np.int8)
    m, s = quantize_multiplier(float(rng.uniform(0.3, 3.0)))
    args = (int(rng.integers(-128, 128)), int(rng.integers(-128, 128)), m, s, single)
    np.testing.assert_array_equal(nonmac.mean_hw_int8(x, *args), reference.mean_hw(x, *args))


@settings(max_examples=30, deadline=None)
@given(SEED, st.integers(1, 5), st.integers(1, 40))
def test_softmax_equals_reference_and_probabilities(seed: int, rows: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(rows, depth), dtype=np.int8)
    table = nonmac.softmax_table(float(rng.uniform(0.01, 0.3)), 1.0)
    got = nonmac.softmax_int8(x, table, 1.0 / 256, -128)
    np.testing.assert_array_equal(got, reference.softmax(x, table, 1.0 / 256, -128))
    probs = (got.astype(np.int64) + 128) / 256.0
    assert np.all(np.abs(probs.sum(axis=1) - 1.0) <= depth / 256.0 + 1e-9)
    # Softmax is monotonic: the largest input gets the largest output (quantization may tie it with others).
    top = got[np.arange(rows), np.argmax(x, axis=1)]
    assert np.all(top == got.max(axis=1))


def test_activation_tables() -> None:
    t = nonmac.activation_table("logistic", 0.1, 0, 1.0 / 256, -128)
    assert int(t[0]) == 0  # sigmoid(0) = 0.5 -> 128 - 128
    t = nonmac.activation_table("tanh", 0.05, 0, 1.0 / 128, 0)
    assert int(t[20]) == round(math.tanh(1.0) * 128)
    assert int(nonmac.lut_int8(np.array([20, -20], np.int8), t)[1]) == -round(math.tanh(1.0) * 128)
    t = nonmac.activation_table("hard_swish", 0.1, 0, 0.1, 0)
    assert int(t[40]) == 40 and int(t[-40 & 0xFF]) == 0  # hswish(4) = 4, hswish(-4) = 0
