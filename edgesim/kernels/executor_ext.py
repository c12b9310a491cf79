"""Integer kernels for the ops whose TFLite int8 kernels only move or select values (slice, split, gather,
expand, nearest resize, max/min reductions and elementwise max/min, arg-reductions), integer SUB, NCHW pooling
and mean (run in NHWC), and the integer NCHW transposed convolution (ONNX requantization, ``onnx_int``).

Selection ops are exact on the integer codes when input and output share their quantization (as TFLite requires
of them); otherwise the codes are requantized with the fixed-point multiplier of the reference kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from edgesim.errors import UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Node
from edgesim.ir.ops import OpKind
from edgesim.ir.resize_coords import nearest_indices
from edgesim.ir.tensor import QuantParams, Tensor
from edgesim.kernels import onnx_int
from edgesim.kernels.requant import quantize_multiplier, requantize_array

if TYPE_CHECKING:  # the executor imports this module; its context type is only needed for annotations
    from edgesim.ir.graph import Graph
    from edgesim.kernels.executor import _Ctx

Kernel = Callable[["_Ctx", Node], None]


def _to_out(ctx: _Ctx, node: Node, src: str, y: np.ndarray, out: str = "") -> np.ndarray:
    """Integer codes of ``src``'s quantization re-expressed in the output tensor's (identity when equal)."""
    in_t, out_t = ctx.tensor(src), ctx.tensor(out or node.outputs[0])
    if in_t.quant is None or out_t.quant is None or in_t.quant == out_t.quant:
        return np.asarray(y).astype(out_t.dtype.numpy(), copy=False)
    if in_t.quant.per_channel or out_t.quant.per_channel:
        raise UnsupportedOpError("per-channel requantization of a data-movement op", node=node.name)
    m, s = quantize_multiplier(float(in_t.quant.scale) / float(out_t.quant.scale))
    lo, hi = onnx_int.int_range(out_t.dtype)
    acc = np.asarray(y, dtype=np.int64) - in_t.quant.zero_point
    r = requantize_array(acc, m, s, ctx.single_rounding) + out_t.quant.zero_point
    return np.clip(r, lo, hi).astype(out_t.dtype.numpy())


def _select(fn: Callable[[Node, np.ndarray], np.ndarray]) -> Kernel:
    def run(ctx: _Ctx, node: Node) -> None:
        x = np.asarray(ctx.value(node.inputs[0]))
        ctx.values[node.outputs[0]] = _to_out(ctx, node, node.inputs[0], fn(node, x))
    return run


def _slice(node: Node, x: np.ndarray) -> np.ndarray:
    a: A.SliceAttrs = node.attrs
    return x[tuple(slice(b, e, s) for b, e, s in zip(a.begin, a.end, a.step, strict=True))]


def _resize_nearest(node: Node, x: np.ndarray) -> np.ndarray:
    a: A.ResizeAttrs = node.attrs
    if a.mode != "nearest":
        raise UnsupportedOpError(f"integer resize mode {a.mode}", node=node.name)
    h_ax, w_ax = (1, 2) if a.layout is A.Layout.NHWC else (2, 3)
    hi, wi = nearest_indices(a, (x.shape[h_ax], x.shape[w_ax]))
    return np.take(np.take(x, hi, axis=h_ax), wi, axis=w_ax)


def _reduce_max(node: Node, x: np.ndarray) -> np.ndarray:
    a: A.ReduceAttrs = node.attrs
    return np.max(x, axis=tuple(a.axes), keepdims=a.keepdims)


def _reduce_min(node: Node, x: np.ndarray) -> np.ndarray:
    a: A.ReduceMathAttrs = node.attrs
    if a.fn != "min":
        raise UnsupportedOpError(f"integer reduction '{a.fn}'", node=node.name)
    return np.min(x, axis=tuple(a.axes), keepdims=a.keepdims)


def _expand(ctx: _Ctx, node: Node) -> None:
    out_t = ctx.tensor(node.outputs[0])
    x = np.asarray(ctx.value(node.inputs[0]))
    ctx.values[node.outputs[0]] = _to_out(ctx, node, node.inputs[0], np.broadcast_to(x, out_t.shape).copy())


def _gather_run(ctx: _Ctx, node: Node) -> None:
    x = np.asarray(ctx.value(node.inputs[0]))
    idx = np.asarray(ctx.value(node.inputs[1])).astype(np.int64)
    y = np.take(x, idx, axis=node.attrs.axis)
    ctx.values[node.outputs[0]] = _to_out(ctx, node, node.inputs[0], y)


def _split(ctx: _Ctx, node: Node) -> None:
    a: A.SplitAttrs = node.attrs
    x = np.asarray(ctx.value(node.inputs[0]))
    for name, part in zip(node.outputs, np.split(x, np.cumsum(a.sizes)[:-1], axis=a.axis), strict=True):
        ctx.values[name] = _to_out(ctx, node, node.inputs[0], part.copy(), name)


def _min_max(ctx: _Ctx, node: Node) -> None:
    """Elementwise MAXIMUM / MINIMUM: both inputs in the output's quantization, then select."""
    vals = [_to_out(ctx, node, name, np.asarray(ctx.value(name))) for name in node.inputs]
    fn = np.maximum if node.op is OpKind.MAXIMUM else np.minimum
    y = vals[0]
    for v in vals[1:]:
        y = fn(y, v)
    ctx.values[node.outputs[0]] = y


def _arg_reduce(ctx: _Ctx, node: Node) -> None:
    a: A.ArgReduceAttrs = node.attrs
    x = np.asarray(ctx.value(node.inputs[0]))
    pick = np.argmax if a.fn == "max" else np.argmin
    if a.select_last_index:
        idx = x.shape[a.axis] - 1 - pick(np.flip(x, axis=a.axis), axis=a.axis)
    else:
        idx = pick(x, axis=a.axis)
    out_t = ctx.tensor(node.outputs[0])
    ctx.values[node.outputs[0]] = np.asarray(idx).reshape(out_t.shape).astype(out_t.dtype.numpy())


def nchw_wrapped(inner: Kernel) -> Kernel:
    """Run an NHWC-only kernel (pooling, spatial mean) on an NCHW node by transposing around it."""
    def run(ctx: _Ctx, node: Node) -> None:
        if not is_nchw_spatial(node):
            inner(ctx, node)
            return
        g = ctx.graph
        x_name, y_name = node.inputs[0], node.outputs[0]
        x_t, y_t = g.tensor(x_name), g.tensor(y_name)
        if len(x_t.shape) != 4:
            raise UnsupportedOpError(f"integer {node.op.value} of a rank-{len(x_t.shape)} tensor", node=node.name)
        tmp_in, tmp_out = f"{x_name}__nhwc", f"{y_name}__nhwc"
        nhwc = (0, 2, 3, 1)
        out_shape = tuple(y_t.shape[i] for i in nhwc) if len(y_t.shape) == 4 else y_t.shape
        shadow = Node(node.name, node.op, (tmp_in,), (tmp_out,), _nhwc_attrs(node))
        # uint8 codes run as int8 codes 128 lower (zero points too): the same real values, exactly
        x_shift = 128 if x_t.dtype is DType.UINT8 else 0
        # TFLite pooling kernels assume the output keeps the input's quantization: pool on the input's grid,
        # then requantize into the output's (MEAN requantizes itself)
        pool_t = x_t if node.op is not OpKind.MEAN else y_t
        y_shift = 128 if pool_t.dtype is DType.UINT8 else 0
        ctx.extra_tensors[tmp_in] = Tensor(tmp_in, tuple(x_t.shape[i] for i in nhwc), DType.INT8,
                                           _shifted(x_t.quant, x_shift))
        ctx.extra_tensors[tmp_out] = Tensor(tmp_out, out_shape, DType.INT8, _shifted(pool_t.quant, y_shift))
        codes = np.asarray(ctx.value(x_name)).astype(np.int16) - x_shift
        ctx.values[tmp_in] = np.ascontiguousarray(np.transpose(codes, nhwc)).astype(np.int8)
        inner(ctx, shadow)
        y = ctx.values.pop(tmp_out).astype(np.int16) + y_shift
        ctx.values.pop(tmp_in)
        y = (np.transpose(y, (0, 3, 1, 2)) if y.ndim == 4 else y.reshape(y_t.shape)).astype(pool_t.dtype.numpy())
        ctx.values[y_name] = _to_out(ctx, node, x_name, y) if node.op is not OpKind.MEAN else y
    return run


def _shifted(q: QuantParams | None, shift: int) -> QuantParams | None:
    if q is None or not shift:
        return q
    return QuantParams(q.scales, tuple(z - shift for z in q.zero_points), q.axis)


def is_nchw_spatial(node: Node) -> bool:
    """A pooling or spatial-mean node of an NCHW graph (run by ``nchw_wrapped``, any 8-bit type)."""
    if node.op is OpKind.MEAN:
        return tuple(sorted(node.attrs.axes)) == (2, 3)
    return node.op in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D) and node.attrs.layout is A.Layout.NCHW


def _nhwc_attrs(node: Node) -> object:
    from dataclasses import replace

    if node.op is OpKind.MEAN:
        return replace(node.attrs, axes=(1, 2))
    return replace(node.attrs, layout=A.Layout.NHWC)


def _transpose_conv_nhwc(ctx: _Ctx, node: Node) -> None:
    """TFLite int8 TRANSPOSE_CONV (reference kernel): each input pixel (minus its zero point) scatters
    input x weight into an int32 scratch at stride offsets, cropped by the padding; then bias and a per-channel
    fixed-point requantization. Weights OHWI, symmetric."""
    from edgesim.kernels.executor import _act, _channel_multipliers

    a: A.ConvAttrs = node.attrs
    x_t, w_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    if x_t.quant is None or w_t.quant is None or out_t.quant is None or any(w_t.quant.zero_points):
        raise UnsupportedOpError("integer TRANSPOSE_CONV needs quantized tensors and symmetric weights",
                                 node=node.name)
    x = np.asarray(ctx.value(node.inputs[0]), np.float64) - x_t.quant.zero_point
    w = np.asarray(ctx.value(node.inputs[1]), np.float64)  # (C_out, kh, kw, C_in)
    n, h, wd, _ = x.shape
    cout, kh, kw, _ = w.shape
    (sh, sw), p = a.stride_hw, a.padding
    oh, ow = out_t.shape[1], out_t.shape[2]
    full = np.zeros((n, p.top + oh + kh + sh * h, p.left + ow + kw + sw * wd, cout))
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + sh * (h - 1) + 1:sh, j:j + sw * (wd - 1) + 1:sw] += np.einsum("nhwc,oc->nhwo", x,
                                                                                      w[:, i, j, :])
    acc = np.rint(full[:, p.top:p.top + oh, p.left:p.left + ow]).astype(np.int64)
    if len(node.inputs) > 2 and node.inputs[2]:
        acc = acc + np.asarray(ctx.value(node.inputs[2]), np.int64)
    mult, shift = _channel_multipliers(x_t.quant, w_t.quant, out_t.quant, cout)
    y = np.empty(acc.shape, np.int64)
    for c in range(cout):
        y[..., c] = requantize_array(acc[..., c], int(mult[c]), int(shift[c]), ctx.single_rounding)
    lo, hi = _act(node, a.activation, out_t.quant)
    ctx.values[node.outputs[0]] = np.clip(y + out_t.quant.zero_point, lo, hi).astype(out_t.dtype.numpy())


def _conv_transpose(ctx: _Ctx, node: Node) -> None:
    a: A.ConvAttrs = node.attrs
    if a.layout is not A.Layout.NCHW:
        _transpose_conv_nhwc(ctx, node)
        return
    x_t, w_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    bias = ctx.value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    y = onnx_int.conv_transpose_nchw(x_t, ctx.value(node.inputs[0]), w_t, ctx.value(node.inputs[1]), bias, out_t,
                                     a)
    ctx.values[node.outputs[0]] = y


def _sub(ctx: _Ctx, node: Node) -> None:
    """int8 SUB as TFLite's reference kernel: both inputs scaled to a common grid (left shift 20, the larger
    input scale doubled), subtracted, requantized to the output; the multipliers as ADD's Prepare computes."""
    from edgesim.kernels.executor import _act

    at: A.ElementwiseAttrs = node.attrs
    a_t, b_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    if a_t.quant is None or b_t.quant is None or out_t.quant is None:
        raise UnsupportedOpError("integer SUB needs quantized tensors", node=node.name)
    a_q, b_q, out_q = a_t.quant, b_t.quant, out_t.quant
    a = np.asarray(ctx.value(node.inputs[0]), np.int64)
    b = np.asarray(ctx.value(node.inputs[1]), np.int64)
    twice_max = float(2 * max(np.float32(a_q.scale), np.float32(b_q.scale)))
    am, ash = quantize_multiplier(float(a_q.scale) / twice_max)
    bm, bsh = quantize_multiplier(float(b_q.scale) / twice_max)
    om, osh = quantize_multiplier(twice_max / float(np.float32((1 << 20) * np.float32(out_q.scale))))
    sr = ctx.single_rounding
    ra = requantize_array((a - a_q.zero_point) << 20, am, ash, sr)
    diff = ra - requantize_array((b - b_q.zero_point) << 20, bm, bsh, sr)
    y = requantize_array(np.asarray(diff), om, osh, sr) + out_q.zero_point
    lo, hi = _act(node, at.activation, out_q)
    ctx.values[node.outputs[0]] = np.clip(y, lo, hi).astype(out_t.dtype.numpy()).reshape(out_t.shape)


def _leaky_relu(ctx: _Ctx, node: Node) -> None:
    """int8 LEAKY_RELU as TFLite's reference kernel: one fixed-point multiplier for x >= 0 (identity rescale)
    and one for x < 0 (alpha folded in), both computed in float32 as its Prepare does."""
    x_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    if x_t.quant is None or out_t.quant is None:
        raise UnsupportedOpError("integer LEAKY_RELU needs quantized tensors", node=node.name)
    s_in, s_out = np.float32(x_t.quant.scale), np.float32(out_t.quant.scale)
    mi, si = quantize_multiplier(float(s_in / s_out))
    ma, sa = quantize_multiplier(float(s_in * np.float32(node.attrs.alpha) / s_out))
    v = np.asarray(ctx.value(node.inputs[0]), np.int64) - x_t.quant.zero_point
    sr = ctx.single_rounding
    y = np.where(v >= 0, requantize_array(v, mi, si, sr), requantize_array(v, ma, sa, sr)) + out_t.quant.zero_point
    lo, hi = onnx_int.int_range(out_t.dtype)
    ctx.values[node.outputs[0]] = np.clip(y, lo, hi).astype(out_t.dtype.numpy())


EXT_KERNELS: dict[OpKind, Kernel] = {
    OpKind.SLICE: _select(_slice),
    OpKind.RESIZE: _select(_resize_nearest),
    OpKind.REDUCE_MAX: _select(_reduce_max),
    OpKind.REDUCE_MATH: _select(_reduce_min),
    OpKind.GATHER: _gather_run,
    OpKind.EXPAND: _expand,
    OpKind.SPLIT: _split,
    OpKind.MAXIMUM: _min_max,
    OpKind.MINIMUM: _min_max,
    OpKind.ARG_REDUCE: _arg_reduce,
    OpKind.CONV_TRANSPOSE2D: _conv_transpose,
    OpKind.SUB: _sub,
    OpKind.LEAKY_RELU: _leaky_relu,
}

# Ops whose kernels work on codes of any 8-bit type (the rest cast to int8 and must not see uint8 tensors).
UINT8_SAFE = frozenset({OpKind.QUANTIZE, OpKind.DEQUANTIZE, OpKind.RESHAPE, OpKind.TRANSPOSE, OpKind.PAD,
                        OpKind.IDENTITY, OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED,
                        OpKind.MATMUL, OpKind.CONV_TRANSPOSE2D} | set(EXT_KERNELS))


def check_uint8(graph: Graph, node: Node) -> None:
    if node.op in UINT8_SAFE or is_nchw_spatial(node):
        return
    for name in (*node.inputs, *node.outputs):
        if name and graph.tensor(name).dtype is DType.UINT8:
            raise UnsupportedOpError(f"uint8 tensor '{name}' in {node.op.value}: this integer kernel runs int8",
                                     node=node.name)
