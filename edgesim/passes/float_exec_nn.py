"""Float-executor kernels for the ops real ONNX/TFLite models add beyond the core set: transposed convolution,
LRN, PReLU, resize, gather, select and comparisons, and the dtype-exact elementwise ops (integer division,
casts). Each follows the ONNX operator specification (the conformance suite checks them against onnx's own
expected outputs); NHWC graphs are computed in NCHW and transposed back, as in ``float_exec``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edgesim.errors import UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir import lowbit
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.resize_coords import nearest_index, source_coords, tflite_mode

Arr = np.ndarray
Run = Callable[[Node, list[Arr | None], Graph], "Arr | list[Arr]"]


def _in(ins: list[Arr | None], k: int) -> Arr:
    x = ins[k]
    assert x is not None
    return x


def _nchw(x: Arr, layout: A.Layout) -> Arr:
    return x.transpose(0, 3, 1, 2) if layout is A.Layout.NHWC else x


def _back(x: Arr, layout: A.Layout) -> Arr:
    return x.transpose(0, 2, 3, 1) if layout is A.Layout.NHWC else x


def _out_dtype(node: Node, graph: Graph, k: int = 0) -> DType:
    return graph.tensors[node.outputs[k]].dtype


def conv_transpose(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    """Scatter form: every input pixel adds its weighted kernel footprint into the full output, which is
    then cropped by the padding (output_padding extends the far end)."""
    from edgesim.passes.float_exec import apply_activation

    a: A.ConvAttrs = node.attrs
    x, w = _nchw(_in(ins, 0), a.layout), _in(ins, 1)
    # ONNX weights are (C_in, C_out/g, kh, kw); TFLite's are (C_out, kh, kw, C_in)
    w = w.transpose(3, 0, 1, 2) if a.layout is A.Layout.NHWC else w
    groups = max(a.groups, 1) if a.layout is A.Layout.NCHW else 1
    n, cin, h, wd = x.shape
    kh, kw = a.kernel_hw
    (sh, sw), (dh, dw) = a.stride_hw, a.dilation_hw
    cin_g, cout_g = cin // groups, w.shape[1]
    full_h = sh * (h - 1) + dh * (kh - 1) + 1 + a.output_padding_hw[0]
    full_w = sw * (wd - 1) + dw * (kw - 1) + 1 + a.output_padding_hw[1]
    full = np.zeros((n, cout_g * groups, full_h, full_w), np.float64)
    for g in range(groups):
        xg = x[:, g * cin_g:(g + 1) * cin_g].astype(np.float64)
        wg = w[g * cin_g:(g + 1) * cin_g].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", xg, wg[:, :, i, j])
                full[:, g * cout_g:(g + 1) * cout_g, i * dh:i * dh + sh * (h - 1) + 1:sh,
                     j * dw:j * dw + sw * (wd - 1) + 1:sw] += contrib
    p = a.padding
    y = full[:, :, p.top:full_h - p.bottom, p.left:full_w - p.right]
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2].reshape(1, -1, 1, 1)
    return _back(apply_activation(y.astype(np.float32), a.activation), a.layout)


def lrn(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    """ONNX LRN: across channels, window [c - floor((size-1)/2), c + ceil((size-1)/2)], alpha divided by size."""
    a: A.LRNAttrs = node.attrs
    x = _nchw(_in(ins, 0), a.layout).astype(np.float64)
    c = x.shape[1]
    lo, hi = (a.size - 1) // 2, -(-(a.size - 1) // 2)
    sq = np.pad(x * x, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
    csum = np.concatenate([np.zeros_like(sq[:, :1]), np.cumsum(sq, axis=1)], axis=1)
    window = csum[:, a.size:a.size + c] - csum[:, :c]
    y = x / (a.bias + a.alpha / a.size * window) ** a.beta
    return _back(y.astype(np.float32), a.layout)


def prelu(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    x, slope = _in(ins, 0), _in(ins, 1)
    return np.where(x < 0, slope * x, x)


def _cubic_kernel(d: Arr, a: float) -> Arr:
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _cubic_weights(coord: Arr, in_len: int, a: float, exclude_outside: bool) -> Arr:
    """(out, in) interpolation matrix of the 4-tap cubic kernel; taps beyond the edge repeat the edge pixel
    (or get weight 0 with exclude_outside). An integral coordinate uses the taps left of it (onnx's choice)."""
    base = np.where(coord == np.floor(coord), coord - 1, np.floor(coord))
    ratio = coord - base
    w = np.zeros((coord.size, in_len))
    rows = np.arange(coord.size)
    taps = [(base - 1, ratio + 1), (base, ratio), (base + 1, 1 - ratio), (base + 2, 2 - ratio)]
    coeffs = np.stack([_cubic_kernel(d, a) for _, d in taps])
    idx = np.stack([i for i, _ in taps]).astype(np.int64)
    if exclude_outside:
        coeffs = coeffs * ((idx >= 0) & (idx < in_len))
        coeffs = coeffs / coeffs.sum(axis=0, keepdims=True)
    for j in range(4):
        np.add.at(w, (rows, np.clip(idx[j], 0, in_len - 1)), coeffs[j])
    return w


def _antialias_weights(coord: Arr, in_len: int, scale: float, a: A.ResizeAttrs) -> Arr:
    """(out, in) matrix of a downscaling resize with antialias: the linear (triangle) or cubic kernel stretched
    by 1/scale so every input pixel under it contributes, normalised to sum 1 (onnx's reference
    ``_linear_coeffs_antialias`` / ``_cubic_coeffs_antialias``). Taps beyond the edge repeat the edge pixel."""
    reach = 1 if a.mode == "linear" else 2  # the kernel's half-width in output pixels
    start = int(math.floor(-reach / scale) + 1)
    offsets = np.arange(start, 2 - start)  # taps relative to the pixel left of the coordinate
    base = np.where(coord == np.floor(coord), coord - 1, np.floor(coord))
    dist = np.abs((offsets[None, :] - (coord - base)[:, None]) * scale)
    if a.mode == "linear":
        coeffs = np.clip(1 - dist, 0, 1)
    else:
        coeffs = _cubic_kernel(dist, a.cubic_coeff_a)
    coeffs = coeffs / coeffs.sum(axis=1, keepdims=True)
    idx = (base[:, None] + offsets[None, :]).astype(np.int64)
    if a.exclude_outside:
        coeffs = coeffs * ((idx >= 0) & (idx < in_len))
        coeffs = coeffs / coeffs.sum(axis=1, keepdims=True)
    w = np.zeros((coord.size, in_len))
    np.add.at(w, (np.repeat(np.arange(coord.size), offsets.size), np.clip(idx, 0, in_len - 1).ravel()),
              coeffs.ravel())
    return w


def resize(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ResizeAttrs = node.attrs
    x = _nchw(_in(ins, 0), a.layout).astype(np.float64)
    coord_mode, rounding = (a.coordinate_mode, a.nearest_mode) if a.coordinate_mode else tflite_mode(a)
    y = x
    outside = np.zeros((1, 1, 1, 1), bool)
    for axis, out_len in ((2, a.out_hw[0]), (3, a.out_hw[1])):
        in_len = x.shape[axis]
        scale = a.scales_hw[axis - 2] if a.scales_hw is not None else out_len / in_len
        roi = (a.roi_hw[axis - 2], a.roi_hw[axis]) if a.roi_hw is not None else (0.0, 1.0)
        coord = source_coords(out_len, in_len, scale, coord_mode, roi)
        if a.roi_hw is not None:  # points outside the input take the extrapolation value (after the loop)
            shape = [1] * y.ndim
            shape[axis] = out_len
            outside = outside | ((coord < 0) | (coord > in_len - 1)).reshape(shape)
        if a.mode == "nearest":
            y = np.take(y, nearest_index(coord, rounding, in_len), axis=axis)
            continue
        if a.mode in ("linear", "cubic") and a.antialias and scale < 1:
            w = _antialias_weights(coord, in_len, scale, a)
            y = np.moveaxis(np.tensordot(w, np.moveaxis(y, axis, 0), axes=1), 0, axis)
            continue
        if a.mode == "cubic":
            w = _cubic_weights(coord, in_len, a.cubic_coeff_a, a.exclude_outside)
            y = np.moveaxis(np.tensordot(w, np.moveaxis(y, axis, 0), axes=1), 0, axis)
            continue
        if a.mode != "linear":  # (cubic returned above)
            raise UnsupportedOpError(f"resize mode {a.mode} is not supported by the float executor",
                                     node=node.name)
        c = np.clip(coord, 0, in_len - 1)
        i0 = np.floor(c).astype(np.int64)
        i1 = np.minimum(i0 + 1, in_len - 1)
        frac_shape = [1] * y.ndim
        frac_shape[axis] = out_len
        f = (c - i0).reshape(frac_shape)
        y = np.take(y, i0, axis=axis) * (1 - f) + np.take(y, i1, axis=axis) * f
    y = np.where(outside, a.extrapolation_value, y)
    return _back(y.astype(np.float32), a.layout)


def gather(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    x, idx = _in(ins, 0), _in(ins, 1)
    return np.take(x, np.asarray(idx).astype(np.int64), axis=node.attrs.axis)


def where(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    return np.where(_in(ins, 0) != 0, _in(ins, 1), _in(ins, 2))


def _compare(fn: Callable[[Arr, Arr], Arr]) -> Run:
    def run(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
        return fn(_in(ins, 0), _in(ins, 1)).astype(np.float32)
    return run


def divide(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    """Integer tensors divide with truncation toward zero (C semantics, as ONNX's integer Div)."""
    from edgesim.passes.float_exec import apply_activation

    x, y = _in(ins, 0), _in(ins, 1)
    dt = _out_dtype(node, graph)
    if dt.is_integer and graph.tensors[node.outputs[0]].quant is None:
        q = np.trunc(x.astype(np.float64) / y.astype(np.float64))
        return q.astype(np.float32)
    act = getattr(node.attrs, "activation", A.Activation.NONE)
    return apply_activation(np.divide(x, y), act)


def power(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    y = np.power(_in(ins, 0).astype(np.float64), _in(ins, 1).astype(np.float64))
    if _out_dtype(node, graph).is_integer:
        y = np.trunc(y)
    return y.astype(np.float32)


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def erf(x: Arr) -> Arr:
    return _ERF(np.asarray(x, np.float64)).astype(np.float32)


def cast(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    """Values on the target type's grid: integers truncate toward zero, bool is x != 0; float16/bfloat16
    rounding is applied by the executor to every fp16/bf16 tensor."""
    x = _in(ins, 0)
    to = DType.from_label(node.attrs.to)
    if to is DType.BOOL:
        return (x != 0).astype(np.float32)
    if to.ml_name is not None and graph.tensors[node.outputs[0]].quant is None:
        return lowbit.cast(x, to, node.attrs.saturate, node.attrs.round_mode)
    if to.is_integer and graph.tensors[node.outputs[0]].quant is None:
        with np.errstate(invalid="ignore"):
            return np.trunc(x).astype(np.float32)
    return x


def round_bf16(x: Arr) -> Arr:
    """Round float32 values to bfloat16 (round to nearest, ties to even) and back."""
    bits = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), x, out)


EXTRA_OPS: dict[OpKind, Run] = {
    OpKind.CONV_TRANSPOSE2D: conv_transpose,
    OpKind.LRN: lrn,
    OpKind.PRELU: prelu,
    OpKind.RESIZE: resize,
    OpKind.GATHER: gather,
    OpKind.WHERE: where,
    OpKind.EQUAL: _compare(np.equal),
    OpKind.LESS: _compare(np.less),
    OpKind.GREATER: _compare(np.greater),
    OpKind.DIV: divide,
    OpKind.POW: power,
    OpKind.ERF: lambda node, ins, graph: erf(_in(ins, 0)),
    OpKind.LOG: lambda node, ins, graph: np.log(_in(ins, 0)),
    OpKind.SQUARED_DIFFERENCE: lambda node, ins, graph: np.square(_in(ins, 0) - _in(ins, 1)),
    OpKind.CAST: cast,
}
