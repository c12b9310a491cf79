"""Values of the low-bit element types (float8, float8 e8m0, float4, int4, int2): conversions for importers and executors.

The float executor holds every value in float32; a tensor of a low-bit type holds values on that type's grid. The
grids and the conversion rules (round to nearest even, overflow to inf/NaN, integer wrap-around) are ml_dtypes',
which is what ONNX's reference implementation and test data use; ml_dtypes is imported on first use only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgesim.ir.dtypes import DType

Arr = np.ndarray

# float8 types whose Cast honours ``saturate`` (ONNX Cast-19): out of range goes to +-max instead of inf/NaN
_SATURATING = frozenset({DType.FP8_E4M3FN, DType.FP8_E4M3FNUZ, DType.FP8_E5M2, DType.FP8_E5M2FNUZ})


def ml_type(dtype: DType) -> Any:
    import ml_dtypes

    assert dtype.ml_name is not None
    return getattr(ml_dtypes, dtype.ml_name)


def on_grid(dtype: DType, x: Arr) -> Arr:
    """``x`` converted to ``dtype`` and back to float32 (float8/float4 round to nearest even; the integer
    types truncate toward zero and wrap, as ml_dtypes' astype does)."""
    if dtype is DType.FP8_E8M0:
        return to_e8m0(x, saturate=True, round_mode="nearest")  # keeps e8m0 values (2^-127 too) as they are
    return np.asarray(x, np.float32).astype(ml_type(dtype)).astype(np.float32)


def cast(x: Arr, to: DType, saturate: bool, round_mode: str) -> Arr:
    """ONNX Cast to a low-bit type (``onnx/reference/ops/op_cast.py`` is the spec)."""
    if to is DType.FP8_E8M0:
        return to_e8m0(x, saturate, round_mode)
    if to in _SATURATING and saturate:
        import ml_dtypes

        big = float(ml_dtypes.finfo(ml_type(to)).max)
        x = np.clip(x, -big, big)  # NaN stays NaN; +-inf become +-max
    return on_grid(to, x)


def to_e8m0(x: Arr, saturate: bool, round_mode: str) -> Arr:
    """Float32 -> e8m0 (a power of two 2^(e-127), e in 0..254; 255 is NaN) -> float32, following ONNX's
    ``numpy_helper.to_float8e8m0``: the float32 exponent field, rounded up/down/to nearest by the mantissa."""
    bits = np.ascontiguousarray(x, np.float32).view(np.uint32)
    exponent = ((bits >> 23) & 0xFF).astype(np.int64)
    special = exponent == 0xFF
    if round_mode == "up":
        bump = (bits & 0x7FFFFF) > 0
    elif round_mode == "nearest":
        guard = (bits & 0x400000) > 0
        rest = (bits & 0x3FFFFF) > 0
        bump = guard & (rest | (exponent > 0))
    else:
        bump = np.zeros(bits.shape, bool)
    bump &= ~special
    if saturate:
        bump &= exponent != 0xFE  # never round the largest exponent into NaN
    exponent = np.where(special, 0xFF, exponent + bump)
    out = np.ldexp(np.float32(1.0), (np.minimum(exponent, 0xFE) - 127).astype(np.int32)).astype(np.float32)
    return np.where(exponent >= 0xFF, np.float32(np.nan), out)


def dequantize_float(dtype: DType, data: Arr, scale: Arr) -> Arr:
    """Real values of a float8/float4-coded tensor: ``float(q) * scale`` (their zero point is always 0)."""
    return (np.asarray(data, np.float32).astype(np.float64) * scale).astype(np.float32)


def quantize_float(dtype: DType, x: Arr, scale: Arr) -> Arr:
    """QuantizeLinear to a float8/float4 type (saturating, ONNX's default) and back to real values."""
    q = codes(dtype, x, scale)
    return (q.astype(np.float64) * scale).astype(np.float32)


def codes(dtype: DType, x: Arr, scale: Arr) -> Arr:
    """QuantizeLinear of real ``x`` to a float8/float4 type: the coded values (on the type's grid, in float32)."""
    return cast(np.asarray(x / scale, np.float32), dtype, saturate=True, round_mode="up")


def storage_bytes(dtype: DType, data: Arr) -> bytes:
    """The bytes of ``data`` stored as ``dtype``: one code per byte for 8-bit types, sub-byte codes packed low
    bits first (ONNX's packing of int4/float4/int2)."""
    codes = np.ascontiguousarray(np.asarray(data).astype(np.float32).astype(ml_type(dtype))).view(np.uint8).ravel()
    if dtype.bits == 8:
        return codes.tobytes()
    per_byte = 8 // dtype.bits
    groups: Arr = np.concatenate([codes & ((1 << dtype.bits) - 1),
                                  np.zeros(-codes.size % per_byte, np.uint8)]).reshape(-1, per_byte)
    shifts = np.arange(per_byte, dtype=np.uint8) * dtype.bits
    return np.bitwise_or.reduce(groups << shifts, axis=1).astype(np.uint8).tobytes()
