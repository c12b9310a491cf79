# mypy: disable-error-code="arg-type,assignment,return-value"
# (Numba kernels mix numpy fixed-width scalars with Python ints on purpose: the widths pick the C++ overflow.)
"""TFLite-compatible fixed-point requantisation.

Mirrors tensorflow/lite/kernels/internal/quantization_util.cc (QuantizeMultiplier) and common.h
(SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier). The stock TFLite build
source default is the gemmlowp "double rounding" path; ruy's GEMM (behind TFLite's fully connected and batch matmul)
rounds once, like the TFLITE_SINGLE_ROUNDING variant. tests/golden/test_bitexact_tflite.py pins which op uses which
by comparing every intermediate tensor with the ai-edge-litert interpreter.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real_multiplier: float, single_rounding: bool = False) -> tuple[int, int]:
    """Double -> (int32 multiplier in [2^30, 2^31), shift) with real ~= multiplier * 2^(shift - 31)."""
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    # TfLiteRound is std::round: halves away from zero (Python's round() would round half to even)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5))
    q_fixed = q_fixed if q >= 0 else -q_fixed
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        # too small to represent: TFLite flushes to zero
        shift = 0
        q_fixed = 0
    if single_rounding and shift > 30:
        # the single-rounding multiply cannot shift left by more than 30: saturate like TFLite
        shift = 30
        q_fixed = (1 << 31) - 1
    return q_fixed, shift


def quantize_multipliers(real_multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``quantize_multiplier`` -> (int32 multipliers, int32 shifts)."""
    pairs = [quantize_multiplier(float(m)) for m in np.asarray(real_multipliers, dtype=np.float64).ravel()]
    mult = np.array([p[0] for p in pairs], dtype=np.int32)
    shift = np.array([p[1] for p in pairs], dtype=np.int32)
    return mult, shift


@njit(cache=True, inline="always")
def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = np.int64(a) * np.int64(b)
    nudge = np.int64(1 << 30) if ab >= 0 else np.int64(1 - (1 << 30))
    s = ab + nudge
    # C++ integer division truncates toward zero; Python/Numba floor division does not
    d = np.int64(1 << 31)
    return s // d if s >= 0 else -((-s) // d)


@njit(cache=True, inline="always")
def rounding_divide_by_pot(x: int, exponent: int) -> int:
    x = np.int64(x)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@njit(cache=True, inline="always")
def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int, single_rounding: bool) -> int:
    if single_rounding:
        total_shift = 31 - shift
        rnd = np.int64(1) << (total_shift - 1)
        return (np.int64(x) * np.int64(multiplier) + rnd) >> total_shift
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    # C++ multiplies in int32; wrap like it so huge accumulators behave identically
    xs = np.int64(np.int32(np.int64(x) << left))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xs, multiplier), right)


@njit(cache=True)
def requantize_array(acc: np.ndarray, multiplier: int, shift: int, single_rounding: bool) -> np.ndarray:
    """Elementwise MultiplyByQuantizedMultiplier over an int32/int64 array (returns int64)."""
    flat = acc.ravel()
    out = np.empty(flat.size, dtype=np.int64)
    for i in range(flat.size):
        out[i] = multiply_by_quantized_multiplier(flat[i], multiplier, shift, single_rounding)
    return out.reshape(acc.shape)


# ---- plain-Python references (for tests: independent of Numba and of the vectorised code) ----


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm_ref(a: int, b: int) -> int:
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _c_div(ab + nudge, 1 << 31)


def rdbpot_ref(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm_ref(x: int, multiplier: int, shift: int, single_rounding: bool = False) -> int:
    if single_rounding:
        total = 31 - shift
        return (x * multiplier + (1 << (total - 1))) >> total
    left = max(shift, 0)
    right = max(-shift, 0)
    xs = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)
    return rdbpot_ref(srdhm_ref(xs, multiplier), right)


def activation_range(
    activation: str, scale: float, zero_point: int, qmin: int = -128, qmax: int = 127
) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: quantise the activation bounds in float32 like TFLite."""

    def q(v: float) -> int:
        r = float(np.float32(v) / np.float32(scale))
        return zero_point + int(math.floor(abs(r) + 0.5)) * (1 if r >= 0 else -1)

    if activation == "relu":
        return max(qmin, zero_point), qmax
    if activation == "relu6":
        return max(qmin, zero_point), min(qmax, q(6.0))
    if activation == "relu_n1_to_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    return qmin, qmax
