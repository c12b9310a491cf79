# mypy: disable-error-code="arg-type,assignment,return-value"
# (Numba kernels mix numpy fixed-width scalars with Python ints on purpose: the widths pick the C++ overflow.)
"""Numba kernels for the non-MAC int8 ops, after TFLite's reference int8 kernels.

ADD (left shift 20 and per-input multipliers), MUL, average/max pool, MEAN over H,W, the float-LUT softmax used by
TFLite's int8 softmax, and 256-entry lookup tables for logistic/tanh/hard-swish.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from edgesim.kernels.requant import multiply_by_quantized_multiplier


@njit(cache=True)
def add_int8(
    a: np.ndarray, b: np.ndarray, a_zp: int, b_zp: int, out_zp: int, left_shift: int, a_mult: int, a_shift: int,
    b_mult: int, b_shift: int, out_mult: int, out_shift: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    """Same-shape int8 ADD (broadcast before calling); flat arrays in, flat int8 out."""
    out = np.empty(a.size, dtype=np.int8)
    for i in range(a.size):
        sa = (np.int64(a[i]) - a_zp) << left_shift
        sb = (np.int64(b[i]) - b_zp) << left_shift
        ra = multiply_by_quantized_multiplier(sa, a_mult, a_shift, single_rounding)
        rb = multiply_by_quantized_multiplier(sb, b_mult, b_shift, single_rounding)
        v = multiply_by_quantized_multiplier(ra + rb, out_mult, out_shift, single_rounding) + out_zp
        out[i] = min(max(v, act[0]), act[1])
    return out


@njit(cache=True)
def mul_int8(
    a: np.ndarray, b: np.ndarray, a_zp: int, b_zp: int, out_zp: int, mult: int, shift: int,
    act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    out = np.empty(a.size, dtype=np.int8)
    for i in range(a.size):
        p = (np.int64(a[i]) - a_zp) * (np.int64(b[i]) - b_zp)
        v = multiply_by_quantized_multiplier(p, mult, shift, single_rounding) + out_zp
        out[i] = min(max(v, act[0]), act[1])
    return out


@njit(cache=True)
def pool2d_int8(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pad_tl: tuple[int, int],
    out_hw: tuple[int, int], is_max: bool, act: tuple[int, int],
) -> np.ndarray:
    """AVERAGE_POOL_2D / MAX_POOL_2D (NHWC). Averages count only in-image taps, rounding half away from zero."""
    nb, in_h, in_w, ch = x.shape
    out = np.empty((nb, out_hw[0], out_hw[1], ch), dtype=np.int8)
    for b in range(nb):
        for oy in range(out_hw[0]):
            y0 = oy * stride[0] - pad_tl[0]
            ky0 = max(0, -y0)
            ky1 = min(kernel[0], in_h - y0)
            for ox in range(out_hw[1]):
                x0 = ox * stride[1] - pad_tl[1]
                kx0 = max(0, -x0)
                kx1 = min(kernel[1], in_w - x0)
                for c in range(ch):
                    acc = np.int32(-128) if is_max else np.int32(0)
                    count = 0
                    for ky in range(ky0, ky1):
                        for kx in range(kx0, kx1):
                            v = np.int32(x[b, y0 + ky, x0 + kx, c])
                            if is_max:
                                acc = max(acc, v)
                            else:
                                acc += v
                            count += 1
                    if not is_max:
                        if count == 0:
                            acc = 0
                        else:
                            # C++ division truncates toward zero
                            num = acc + count // 2 if acc > 0 else acc - count // 2
                            acc = num // count if num >= 0 else -((-num) // count)
                    out[b, oy, ox, c] = min(max(acc, act[0]), act[1])
    return out


@njit(cache=True)
def mean_hw_int8(
    x: np.ndarray, in_zp: int, out_zp: int, mult: int, shift: int, single_rounding: bool
) -> np.ndarray:
    """MEAN over H and W of NHWC int8 (reference_integer_ops::Mean): requantise the sum, then divide."""
    nb, h, w, ch = x.shape
    n = h * w
    out = np.empty((nb, ch), dtype=np.int8)
    for b in range(nb):
        for c in range(ch):
            acc = np.int64(0)
            for y in range(h):
                for xx in range(w):
                    acc += np.int64(x[b, y, xx, c]) - in_zp
            acc = multiply_by_quantized_multiplier(acc, mult, shift, single_rounding)
            num = acc + n // 2 if acc > 0 else acc - n // 2
            acc = num // n if num >= 0 else -((-num) // n)
            acc += out_zp
            out[b, c] = min(max(acc, -128), 127)
    return out


def softmax_table(input_scale: float, beta: float) -> np.ndarray:
    """PopulateSoftmaxLookupTable: table[255 - v] = expf(-input_scale * beta * v), in float32."""
    scale = np.float32(-np.float32(input_scale) * np.float32(beta))
    table = np.empty(256, dtype=np.float32)
    for v in range(256):
        # exp in double then rounded approximates a correctly rounded expf
        table[255 - v] = np.float32(math.exp(float(np.float32(scale * np.float32(v)))))
    return table


@njit(cache=True)
def softmax_int8(x2d: np.ndarray, table: np.ndarray, out_scale: float, out_zp: int) -> np.ndarray:
    """Softmax over the last axis of (rows, depth) int8, TFLite's float-LUT int8 path (float32 arithmetic)."""
    rows, depth = x2d.shape
    out = np.empty((rows, depth), dtype=np.int8)
    scale32 = np.float32(out_scale)
    for r in range(rows):
        max_val = np.int32(-128)
        for j in range(depth):
            max_val = max(max_val, np.int32(x2d[r, j]))
        base = 255 - max_val
        sum_exp = np.float32(0.0)
        for j in range(depth):
            sum_exp = np.float32(sum_exp + table[base + np.int32(x2d[r, j])])
        inv = np.float32(np.float32(1.0) / np.float32(sum_exp * scale32))
        for j in range(depth):
            p = np.float32(table[base + np.int32(x2d[r, j])] * inv)
            # std::round: half away from zero (p >= 0 here)
            q = np.int32(np.floor(np.float64(p) + 0.5)) + out_zp
            out[r, j] = min(max(q, -128), 127)
    return out


@njit(cache=True)
def lut_int8(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Apply a 256-entry int8 table indexed by (uint8)x, as TFLite's LUT-based int8 activations do."""
    flat = x.ravel()
    out = np.empty(flat.size, dtype=np.int8)
    for i in range(flat.size):
        out[i] = table[np.int32(flat[i]) & 0xFF]
    return out.reshape(x.shape)


def activation_table(kind: str, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """PopulateLookupTable<int8>: dequantise in float32, transform, round, requantise, clamp.

    hard_swish is not a float table in TFLite: it is the int16 fixed-point reference_ops::HardSwish, tabulated.
    """
    s_in = np.float32(in_scale)
    inv_out = np.float32(np.float32(1.0) / np.float32(out_scale))
    table = np.empty(256, dtype=np.int8)
    for val in range(-128, 128):
        d = np.float32(s_in * np.float32(val - in_zp))
        if kind == "logistic":
            t = np.float32(1.0) / (np.float32(1.0) + np.float32(math.exp(-float(d))))
        elif kind == "tanh":
            t = np.float32(math.tanh(float(d)))
        elif kind == "hard_swish":
            return hard_swish_table(in_scale, in_zp, out_scale, out_zp)
        else:
            raise ValueError(f"unknown activation table '{kind}'")
        r = float(np.float32(t * inv_out))
        q = int(math.floor(abs(r) + 0.5)) * (1 if r >= 0 else -1) + out_zp
        table[val & 0xFF] = min(max(q, -128), 127)
    return table


def _srdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    ab = a * b
    num = ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14))
    q = abs(num) // (1 << 15)
    return q if num >= 0 else -q


def _sdhm16(a: int, b: int) -> int:
    # SaturatingDoublingHighMul: no rounding nudge, C++ truncating division
    if a == b == -32768:
        return 32767
    ab = a * b
    q = abs(ab) // (1 << 15)
    return q if ab >= 0 else -q


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    return (x >> exponent) + (1 if (x & mask) > (mask >> 1) + (1 if x < 0 else 0) else 0)


def _sat_lshift16(x: int, amount: int) -> int:
    return min(max(x * (1 << amount), -32768), 32767)


def _to_int16_multiplier(m32: int) -> int:
    # DownScaleInt32ToInt16Multiplier
    if m32 >= (1 << 31) - 1 - (1 << 15):
        return 32767
    return (m32 + (1 << 15)) >> 16


def hard_swish_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """reference_ops::HardSwish<int8> (int16 fixed point, params as HardSwishPrepare) for all 256 inputs."""
    from edgesim.kernels.requant import quantize_multiplier

    hires = np.float32(np.float32(1.0 / 128.0) * np.float32(in_scale))
    out_m32, out_exp = quantize_multiplier(float(np.float32(hires / np.float32(out_scale))))
    relu_m32, relu_exp = quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    out_m16, relu_m16 = _to_int16_multiplier(out_m32), _to_int16_multiplier(relu_m32)
    if out_exp > 0:
        raise ValueError("hard swish output multiplier must not exceed 1 (TFLite rejects the model too)")
    table = np.empty(256, dtype=np.int8)
    for val in range(-128, 128):
        x_hires = (val - in_zp) * 128
        pre_out = _srdhm16(x_hires, out_m16)
        r = x_hires
        if relu_exp > 0:
            r = _sat_lshift16(r, relu_exp - 1)
        r = _srdhm16(r, relu_m16)
        if relu_exp > 0:
            r = _sat_lshift16(r, 1)
        if relu_exp < 0:
            r = _rdbpot(r, -relu_exp)
        r = (r + (1 << 15)) >> 1
        y = _rdbpot(_sdhm16(r, pre_out), -out_exp) + out_zp
        table[val & 0xFF] = min(max(y, -128), 127)
    return table
