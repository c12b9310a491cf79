# mypy: disable-error-code="arg-type,assignment,return-value"
# (Numba kernels mix numpy fixed-width scalars with Python ints on purpose: the widths pick the C++ overflow.)
"""Numba MAC kernels: conv2d (grouped, covers depthwise), fully connected / matmul, with int4 packed variants.

Ungrouped convolutions (im2col) and fully connected layers run on the exact packed GEMM of ``gemm.py`` and are
requantised afterwards; grouped/depthwise convolutions, which have no useful GEMM form, keep the direct loop.

Semantics follow TFLite's reference_integer_ops (ConvPerChannel, DepthwiseConvPerChannel, FullyConnected):
int32 accumulation of (x + input_offset) * (w + weight_offset), + bias, per-channel MultiplyByQuantizedMultiplier,
+ output zero point, clamp to the fused activation range. Out-of-image taps are skipped, which equals padding
with the input zero point.
"""

from __future__ import annotations

import weakref

import numpy as np
from numba import njit

from edgesim.errors import ShapeError
from edgesim.kernels import gemm
from edgesim.kernels.requant import multiply_by_quantized_multiplier


@njit(cache=True, inline="always")
def _unpack_int4(packed: np.ndarray, start: int, count: int, out: np.ndarray) -> None:
    # two signed nibbles per byte, low nibble first (element 2k in the low nibble of byte k)
    for j in range(count):
        e = start + j
        b = np.int32(packed[e >> 1])
        nib = (b >> (4 * (e & 1))) & 0xF
        out[j] = nib - 16 if nib >= 8 else nib


@njit(cache=True, inline="always")
def _conv_channel(
    x: np.ndarray, w_oc: np.ndarray, bias: int, in_off: int, oc: int, ic0: int,
    mult: int, shift: int, out_zp: int, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int,
    act_min: int, act_max: int, single_rounding: bool, out: np.ndarray,
) -> None:
    n_b, in_h, in_w, _ = x.shape
    kh, kw, ig = w_oc.shape
    _, out_h, out_w, _ = out.shape
    for b in range(n_b):
        for oy in range(out_h):
            for ox in range(out_w):
                acc = np.int32(0)
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        if ix < 0 or ix >= in_w:
                            continue
                        for c in range(ig):
                            acc += (np.int32(x[b, iy, ix, ic0 + c]) + in_off) * np.int32(w_oc[ky, kx, c])
                acc += bias
                v = multiply_by_quantized_multiplier(acc, mult, shift, single_rounding) + out_zp
                v = min(max(v, act_min), act_max)
                out[b, oy, ox, oc] = v


# Weights are packed once per weight array, as a runtime does at load time, not on every call: for a batch-1 FC
# the packing costs more than the GEMM. Keyed by the caller's array object (a weak reference, so a freed array
# never matches another that reuses its id) plus a strided sample of its bytes, which catches a whole-tensor
# in-place edit; weights are graph constants, so finer in-place edits are not expected.
_PACK_CACHE: dict[int, tuple[weakref.ref[np.ndarray], tuple[int, ...], bytes, gemm.PackedB]] = {}
_PACK_CACHE_MAX = 512


def _fingerprint(a: np.ndarray) -> bytes:
    flat = a.reshape(-1)
    return flat[:: max(1, flat.size // 256)].tobytes()


def packed_weights_nk(source: np.ndarray, rows_k: np.ndarray) -> gemm.PackedB:
    """``gemm.pack_weights_nk(rows_k)``, cached for the weight array ``source`` that ``rows_k`` was made from."""
    key = id(source)
    hit = _PACK_CACHE.get(key)
    if hit is not None and hit[0]() is source and hit[1] == rows_k.shape and hit[2] == _fingerprint(rows_k):
        return hit[3]
    packed = gemm.pack_weights_nk(rows_k)
    try:
        ref = weakref.ref(source)
    except TypeError:  # not weak-referenceable: do not cache
        return packed
    if len(_PACK_CACHE) >= _PACK_CACHE_MAX:
        _PACK_CACHE.clear()
    _PACK_CACHE[key] = (ref, rows_k.shape, _fingerprint(rows_k), packed)
    return packed


def _conv2d_gemm(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, in_zp: int, mult: np.ndarray, shift: np.ndarray,
    out_zp: int, stride: tuple[int, int], dilation: tuple[int, int], pad_tl: tuple[int, int],
    out_hw: tuple[int, int], act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    n_out, kh, kw, ig = w.shape
    pw = packed_weights_nk(w, np.ascontiguousarray(w, dtype=np.int8).reshape(n_out, kh * kw * ig))
    rq = gemm.Requant(mult, shift, out_zp, act, single_rounding)
    y = gemm.conv2d_acc(x, pw, (kh, kw), in_zp, stride, dilation, pad_tl, out_hw, col_add=bias, requant=rq)
    return y.reshape(x.shape[0], out_hw[0], out_hw[1], n_out)


def conv2d_int8(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, in_zp: int, mult: np.ndarray, shift: np.ndarray,
    out_zp: int, stride: tuple[int, int], dilation: tuple[int, int], pad_tl: tuple[int, int],
    out_hw: tuple[int, int], groups: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    """x int8 NHWC, w int8 OHWI (I = C/groups), bias int32[O]; depthwise = groups C with O = C*multiplier."""
    if groups == 1:
        return _conv2d_gemm(x, w, bias, in_zp, mult, shift, out_zp, stride, dilation, pad_tl, out_hw, act,
                            single_rounding)
    return _conv2d_direct_int8(x, w, bias, in_zp, mult, shift, out_zp, stride, dilation, pad_tl, out_hw, groups,
                               act, single_rounding)


@njit(cache=True)
def _conv2d_direct_int8(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, in_zp: int, mult: np.ndarray, shift: np.ndarray,
    out_zp: int, stride: tuple[int, int], dilation: tuple[int, int], pad_tl: tuple[int, int],
    out_hw: tuple[int, int], groups: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    n_out = w.shape[0]
    out = np.empty((x.shape[0], out_hw[0], out_hw[1], n_out), dtype=np.int8)
    per_group = n_out // groups
    for oc in range(n_out):
        ic0 = (oc // per_group) * w.shape[3]
        _conv_channel(x, w[oc], bias[oc], -in_zp, oc, ic0, mult[oc], shift[oc], out_zp, stride[0], stride[1],
                      dilation[0], dilation[1], pad_tl[0], pad_tl[1], act[0], act[1], single_rounding, out)
    return out


def conv2d_int4(
    x: np.ndarray, w_packed: np.ndarray, w_shape: tuple[int, int, int, int], bias: np.ndarray, in_zp: int,
    mult: np.ndarray, shift: np.ndarray, out_zp: int, stride: tuple[int, int], dilation: tuple[int, int],
    pad_tl: tuple[int, int], out_hw: tuple[int, int], groups: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    """As conv2d_int8 with OHWI int4 weights packed two per byte (unpacked to int8 for the GEMM path)."""
    if groups == 1:
        w = unpack_int4(w_packed, int(np.prod(w_shape))).reshape(w_shape)
        return _conv2d_gemm(x, w, bias, in_zp, mult, shift, out_zp, stride, dilation, pad_tl, out_hw, act,
                            single_rounding)
    return _conv2d_direct_int4(x, w_packed, w_shape, bias, in_zp, mult, shift, out_zp, stride, dilation, pad_tl,
                               out_hw, groups, act, single_rounding)


@njit(cache=True)
def _conv2d_direct_int4(
    x: np.ndarray, w_packed: np.ndarray, w_shape: tuple[int, int, int, int], bias: np.ndarray, in_zp: int,
    mult: np.ndarray, shift: np.ndarray, out_zp: int, stride: tuple[int, int], dilation: tuple[int, int],
    pad_tl: tuple[int, int], out_hw: tuple[int, int], groups: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    # grouped int4 conv: one output channel is unpacked at a time
    n_out, kh, kw, ig = w_shape
    out = np.empty((x.shape[0], out_hw[0], out_hw[1], n_out), dtype=np.int8)
    per_group = n_out // groups
    per_oc = kh * kw * ig
    buf = np.empty(per_oc, dtype=np.int8)
    for oc in range(n_out):
        _unpack_int4(w_packed, oc * per_oc, per_oc, buf)
        ic0 = (oc // per_group) * ig
        _conv_channel(x, buf.reshape((kh, kw, ig)), bias[oc], -in_zp, oc, ic0, mult[oc], shift[oc], out_zp,
                      stride[0], stride[1], dilation[0], dilation[1], pad_tl[0], pad_tl[1], act[0], act[1],
                      single_rounding, out)
    return out


def fully_connected_int8(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, in_zp: int, w_zp: int, mult: np.ndarray,
    shift: np.ndarray, out_zp: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    """x int8 (M, K), w int8 (N, K), bias int32[N] -> int8 (M, N). Also serves batch matmul (bias zeros).

    acc = sum_k (x - in_zp)(w - w_zp) + bias = GEMM(x - in_zp, w) + bias - w_zp * sum_k (x - in_zp), all int32.
    """
    x = np.ascontiguousarray(x, dtype=np.int8)
    w_source = w
    w = np.ascontiguousarray(w, dtype=np.int8)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ShapeError(f"fully connected input {x.shape} does not match weights {w.shape} (N, K)")
    rows = None
    if w_zp != 0:
        rows = (-int(w_zp) * (x.astype(np.int64).sum(axis=1) - int(in_zp) * x.shape[1])).astype(np.int32)
    rq = gemm.Requant(mult, shift, out_zp, act, single_rounding, rows)
    return gemm.gemm_acc(x, packed_weights_nk(w_source, w), a_offset=-int(in_zp), col_add=bias, requant=rq)


def fully_connected_int4(
    x: np.ndarray, w_packed: np.ndarray, n_out: int, bias: np.ndarray, in_zp: int, w_zp: int,
    mult: np.ndarray, shift: np.ndarray, out_zp: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    """As fully_connected_int8 with (N, K) int4 weights packed two per byte, low nibble first."""
    k = x.shape[1]
    w = unpack_int4(w_packed, n_out * k).reshape(n_out, k)
    return fully_connected_int8(x, w, bias, in_zp, w_zp, mult, shift, out_zp, act, single_rounding)


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Pack signed int4 values (in [-8, 7], any shape, C order) two per byte, low nibble first."""
    flat = np.asarray(values, dtype=np.int16).ravel()
    if flat.size and (flat.min() < -8 or flat.max() > 7):
        raise ValueError("int4 values must lie in [-8, 7]")
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, dtype=np.int16)])
    nib = (flat & 0xF).astype(np.uint8)
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of ``pack_int4``: the first ``count`` values as int8."""
    p = np.asarray(packed, dtype=np.uint8)
    nib = np.empty(p.size * 2, dtype=np.int16)
    nib[0::2] = p & 0xF
    nib[1::2] = p >> 4
    nib = np.where(nib >= 8, nib - 16, nib)
    return nib[:count].astype(np.int8)
