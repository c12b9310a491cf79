"""Integer kernels with ONNX (onnxruntime) semantics, for what the TFLite-style kernels do not cover: NCHW
convolutions (QLinearConv, ConvInteger), uint8 operands, asymmetric or per-channel weight zero points, and the
raw int32 accumulators of ConvInteger / MatMulInteger.

Accumulation is exact (integer products summed in float64, exact below 2**53, then rounded back to integers);
requantization follows the ONNX specification and onnxruntime: ``saturate(round(acc * in_scale * w_scale /
out_scale) + out_zero_point)``, the real multiplier applied in floating point and ties rounded to even (the
TFLite kernels use a fixed-point multiplier and round half away from zero instead).
"""

from __future__ import annotations

import numpy as np

from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.tensor import QuantParams, Tensor


def int_range(dtype: DType) -> tuple[int, int]:
    if dtype in (DType.UINT8, DType.UINT4, DType.UINT2):
        return 0, (1 << dtype.bits) - 1
    return -(1 << (dtype.bits - 1)), (1 << (dtype.bits - 1)) - 1


def channel_params(q: QuantParams | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scales, zero points) of length ``n`` (a per-tensor quantization is repeated)."""
    if q is None:
        return np.ones(n), np.zeros(n)
    s, z = np.asarray(q.scales, np.float64), np.asarray(q.zero_points, np.float64)
    if s.size == 1:
        s, z = np.full(n, s[0]), np.full(n, z[0])
    return s, z


def centred(t: Tensor, v: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Integer values minus their zero point (per-axis zero points along ``axis``), as float64."""
    x = np.asarray(v, np.float64)
    if t.quant is None:
        return x
    z = np.asarray(t.quant.zero_points, np.float64)
    if z.size > 1:
        ax = t.quant.axis if axis is None else axis
        shape = [1] * x.ndim
        shape[ax if ax is not None else 0] = -1
        return x - z.reshape(shape)
    return x - z[0]


def requantize(acc: np.ndarray, in_scale: float, w_scales: np.ndarray, out: Tensor, channel_axis: int
               ) -> np.ndarray:
    """int32 accumulator -> the output tensor's integer type (or the raw accumulator for an int32 output)."""
    if out.quant is None:
        return np.rint(acc).astype(out.dtype.numpy())
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    mult = (in_scale * w_scales / out.quant.scale).astype(np.float32).reshape(shape)
    lo, hi = int_range(out.dtype)
    y = np.rint(acc.astype(np.float32) * mult) + out.quant.zero_point
    return np.clip(y, lo, hi).astype(out.dtype.numpy())


def conv2d_nchw(x_t: Tensor, x: np.ndarray, w_t: Tensor, w: np.ndarray, bias: np.ndarray | None, out: Tensor,
                stride: tuple[int, int], dilation: tuple[int, int], pads: tuple[int, int, int, int],
                groups: int) -> np.ndarray:
    """Integer NCHW convolution, weights OIHW; ``pads`` = (top, left, bottom, right)."""
    xc = centred(x_t, x, 1)
    wc = centred(w_t, w, 0)
    top, left, bottom, right = pads
    xc = np.pad(xc, ((0, 0), (0, 0), (top, bottom), (left, right)))  # real zero after centring
    n, cin, h, wd = xc.shape
    cout, cin_g, kh, kw = wc.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = out.shape[2], out.shape[3]
    sn, sc, shh, sww = xc.strides
    win = np.lib.stride_tricks.as_strided(xc, (n, cin, oh, ow, kh, kw),
                                          (sn, sc, shh * sh, sww * sw, shh * dh, sww * dw), writeable=False)
    cout_g = cout // groups
    acc = np.empty((n, cout, oh, ow), np.float64)
    for g in range(groups):
        xg = win[:, g * cin_g:(g + 1) * cin_g].transpose(0, 2, 3, 1, 4, 5).reshape(n, oh, ow, -1)
        wg = wc[g * cout_g:(g + 1) * cout_g].reshape(cout_g, -1)
        acc[:, g * cout_g:(g + 1) * cout_g] = np.einsum("nhwk,ok->nohw", xg, wg)
    if bias is not None:
        acc += np.asarray(bias, np.float64).reshape(1, -1, 1, 1)
    in_scale = x_t.quant.scale if x_t.quant is not None else 1.0
    w_scales, _ = channel_params(w_t.quant, cout)
    return requantize(acc, in_scale, w_scales, out, 1)


def conv_transpose_nchw(x_t: Tensor, x: np.ndarray, w_t: Tensor, w: np.ndarray, bias: np.ndarray | None,
                        out: Tensor, a: A.ConvAttrs) -> np.ndarray:
    """Integer NCHW transposed convolution (weights (C_in, C_out/groups, kh, kw)), scatter form then crop."""
    xc, wc = centred(x_t, x, 1), centred(w_t, w, 1)
    n, cin, h, wd = xc.shape
    groups = max(a.groups, 1)
    cin_g, cout_g = cin // groups, wc.shape[1]
    kh, kw = a.kernel_hw
    (sh, sw), (dh, dw) = a.stride_hw, a.dilation_hw
    full_h = sh * (h - 1) + dh * (kh - 1) + 1 + a.output_padding_hw[0]
    full_w = sw * (wd - 1) + dw * (kw - 1) + 1 + a.output_padding_hw[1]
    acc = np.zeros((n, cout_g * groups, full_h, full_w))
    for g in range(groups):
        xg, wg = xc[:, g * cin_g:(g + 1) * cin_g], wc[g * cin_g:(g + 1) * cin_g]
        for i in range(kh):
            for j in range(kw):
                acc[:, g * cout_g:(g + 1) * cout_g, i * dh:i * dh + sh * (h - 1) + 1:sh,
                    j * dw:j * dw + sw * (wd - 1) + 1:sw] += np.einsum("nchw,co->nohw", xg, wg[:, :, i, j])
    p = a.padding
    acc = acc[:, :, p.top:full_h - p.bottom, p.left:full_w - p.right]
    if bias is not None:
        acc = acc + np.asarray(bias, np.float64).reshape(1, -1, 1, 1)
    in_scale = x_t.quant.scale if x_t.quant is not None else 1.0
    # per-channel weight scales run along axis 1 (C_out / groups), the same for every group
    w_scales = np.tile(channel_params(w_t.quant, cout_g)[0], groups)
    return requantize(acc, in_scale, w_scales, out, 1)


def matmul(a_t: Tensor, a: np.ndarray, b_t: Tensor, b: np.ndarray, out: Tensor, b_is_nk: bool,
           bias: np.ndarray | None = None) -> np.ndarray:
    """Integer (batched) matmul; B is (..., K, N), or (N, K) when ``b_is_nk`` (a fully-connected weight).
    B's per-channel quantization runs along N."""
    ac = centred(a_t, a)
    if b_is_nk:
        bc = centred(b_t, b, 0).T
    else:
        bc = centred(b_t, b, b.ndim - 1)
    acc = np.matmul(ac, bc)
    if bias is not None:
        acc = acc + np.asarray(bias, np.float64)
    n = acc.shape[-1]
    in_scale = a_t.quant.scale if a_t.quant is not None else 1.0
    w_scales, _ = channel_params(b_t.quant, n)
    return requantize(acc, in_scale, w_scales, out, acc.ndim - 1)


def needs_onnx_path(*tensors: Tensor) -> bool:
    """True when the TFLite-style kernels cannot run these operands bit-exactly: uint8 values, an int32 raw
    output, or weight zero points that are not all zero."""
    for t in tensors:
        if t.dtype in (DType.UINT8, DType.INT32) and not (t.dtype is DType.INT32 and t.is_const):
            return True
        if t.is_const and t.quant is not None and any(z != 0 for z in t.quant.zero_points):
            return True
    return False
