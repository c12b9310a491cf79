"""A plain NumPy float32 reference executor for IR graphs (NCHW and NHWC), for calibration and accuracy reports.

Quantized tensors are simulated, not executed bit-exactly: integer constants are dequantized, and every computed
tensor that carries QuantParams is fake-quantized (round, clamp, rescale) so the result shows quantization error.
The bit-exact integer path lives in edgesim.kernels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from edgesim.errors import EdgesimError, UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir import lowbit
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor
from edgesim.passes.float_exec_detect import nms, roi_align
from edgesim.passes.float_exec_grid import grid_sample
from edgesim.passes.float_exec_math import MATH_OPS, sigmoid
from edgesim.passes.float_exec_nn import EXTRA_OPS, round_bf16

Arr = np.ndarray


def qrange(dtype: DType) -> tuple[int, int]:
    bits = dtype.bits
    if dtype in (DType.UINT8, DType.UINT4, DType.UINT2):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _broadcast_q(q: QuantParams, rank: int) -> tuple[Arr, Arr]:
    scales = np.asarray(q.scales, np.float64)
    zps = np.asarray(q.zero_points, np.float64)
    if q.axis is not None and rank:
        shape = [1] * rank
        shape[q.axis] = len(q.scales)
        return scales.reshape(shape), zps.reshape(shape)
    return scales, zps


def dequantize(t: Tensor, data: Arr) -> Arr:
    """Real values of integer ``data`` held by tensor ``t`` (float data passes through as float32)."""
    if t.quant is not None and t.dtype.is_low_bit_float:
        return lowbit.dequantize_float(t.dtype, data, _broadcast_q(t.quant, np.ndim(data))[0])
    if t.quant is None or t.dtype.is_float:
        return np.asarray(data, np.float32)
    s, z = _broadcast_q(t.quant, data.ndim)
    return ((data.astype(np.float64) - z) * s).astype(np.float32)


def fake_quantize(t: Tensor, x: Arr) -> Arr:
    """Quantize real ``x`` to ``t``'s integer grid and back (used for activations of quantized graphs)."""
    if t.dtype is DType.FP16:
        return x.astype(np.float16).astype(np.float32)
    if t.dtype is DType.BF16:
        return round_bf16(x)
    if t.dtype.is_low_bit_float:
        if t.quant is None:
            return lowbit.on_grid(t.dtype, x)
        return lowbit.quantize_float(t.dtype, x, _broadcast_q(t.quant, x.ndim)[0])
    if t.quant is None and t.dtype.ml_name is not None:
        return lowbit.on_grid(t.dtype, x)  # int4/int2 values (Cast output): wrap like the type does
    if t.quant is None or t.dtype.is_float:
        return x
    lo, hi = qrange(t.dtype)
    s, z = _broadcast_q(t.quant, x.ndim)
    q = np.clip(np.round(x / s) + z, lo, hi)
    return ((q - z) * s).astype(np.float32)


# --- layout helpers: compute spatial ops in NCHW ----------------------------------------------------------
def _to_nchw(x: Arr, layout: A.Layout) -> Arr:
    return x.transpose(0, 3, 1, 2) if layout is A.Layout.NHWC else x


def _from_nchw(x: Arr, layout: A.Layout) -> Arr:
    return x.transpose(0, 2, 3, 1) if layout is A.Layout.NHWC else x


def _pad_nchw(x: Arr, p: A.Padding, value: float = 0.0) -> Arr:
    if p.is_zero:
        return x
    return np.pad(x, ((0, 0), (0, 0), (p.top, p.bottom), (p.left, p.right)), constant_values=value)


def _windows(x: Arr, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> Arr:
    """(N, C, OH, OW, KH, KW) strided view of padded NCHW ``x``."""
    n, c, h, w = x.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    sn, sc, shh, sww = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, kh, kw), (sn, sc, shh * sh, sww * sw, shh * dh, sww * dw), writeable=False)


def apply_activation(x: Arr, act: A.Activation) -> Arr:
    if act is A.Activation.NONE:
        return x
    if act is A.Activation.RELU:
        return np.maximum(x, 0)
    if act is A.Activation.RELU6:
        return np.clip(x, 0, 6)
    if act is A.Activation.RELU_N1_TO_1:
        return np.clip(x, -1, 1)
    if act is A.Activation.TANH:
        return np.tanh(x)
    if act is A.Activation.SIGMOID:
        return sigmoid(x)
    if act is A.Activation.HARD_SWISH:
        return x * np.clip(x + 3, 0, 6) / 6
    if act is A.Activation.LEAKY_RELU:
        return np.where(x >= 0, x, 0.01 * x)
    raise UnsupportedOpError(f"fused activation {act.value} is not supported by the float executor")


def _conv(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ConvAttrs = node.attrs
    x, w = ins[0], ins[1]
    assert x is not None and w is not None
    b = ins[2] if len(ins) > 2 else None
    x = _to_nchw(x, a.layout)
    if a.layout is A.Layout.NHWC:
        # TFLite OHWI; depthwise 1HW(C*M) -> (C*M, 1, H, W)
        w = w.transpose(3, 0, 1, 2) if node.op is OpKind.DEPTHWISE_CONV2D else w.transpose(0, 3, 1, 2)
    c_in = x.shape[1]
    c_out = w.shape[0]
    groups = c_in if node.op is OpKind.DEPTHWISE_CONV2D else max(a.groups, 1)
    kh, kw = a.kernel_hw
    win = _windows(np.ascontiguousarray(_pad_nchw(x, a.padding)), kh, kw, *a.stride_hw, *a.dilation_hw)
    n, _, oh, ow = win.shape[:4]
    cin_g, cout_g = c_in // groups, c_out // groups
    out = np.empty((n, c_out, oh, ow), np.float32)
    for g in range(groups):
        wg = w[g * cout_g:(g + 1) * cout_g].reshape(cout_g, cin_g * kh * kw)
        xg = win[:, g * cin_g:(g + 1) * cin_g].transpose(0, 2, 3, 1, 4, 5).reshape(n, oh, ow, cin_g * kh * kw)
        out[:, g * cout_g:(g + 1) * cout_g] = np.einsum("nhwk,ok->nohw", xg, wg, optimize=True)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return _from_nchw(apply_activation(out, a.activation), a.layout)


def _fc(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.FullyConnectedAttrs = node.attrs
    x, w = ins[0], ins[1]
    assert x is not None and w is not None
    out_shape = graph.tensors[node.outputs[0]].shape
    y = x.reshape(-1, w.shape[1]) @ w.T
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2]
    return apply_activation(y, a.activation).reshape(out_shape)


def _pool(node: Node, ins: list[Arr | None], graph: Graph) -> Arr | list[Arr]:
    a: A.PoolAttrs = node.attrs
    x = ins[0]
    assert x is not None
    x = _to_nchw(x, a.layout)
    kh, kw = a.kernel_hw
    dh, dw = a.dilation_hw
    out_shape = graph.tensors[node.outputs[0]].shape
    oh, ow = (out_shape[2], out_shape[3]) if a.layout is A.Layout.NCHW else (out_shape[1], out_shape[2])
    p = a.padding
    # Extra bottom/right padding covers ceil_mode windows.
    need_h = (oh - 1) * a.stride_hw[0] + (kh - 1) * dh + 1 - (x.shape[2] + p.top)
    need_w = (ow - 1) * a.stride_hw[1] + (kw - 1) * dw + 1 - (x.shape[3] + p.left)
    pads = ((0, 0), (0, 0), (p.top, max(need_h, p.bottom)), (p.left, max(need_w, p.right)))
    if node.op is OpKind.MAX_POOL2D:
        xp = np.pad(x, pads, constant_values=-np.inf)
        win = _windows(xp, kh, kw, *a.stride_hw, dh, dw)[:, :, :oh, :ow]
        y = win.max(axis=(4, 5))
        if len(node.outputs) > 1:  # ONNX MaxPool's Indices: NCHW-flat position of each window's first maximum
            return [_from_nchw(apply_activation(y.astype(np.float32), a.activation), a.layout),
                    _argmax_indices(win, x.shape, a)]
    else:
        xp = np.pad(x, pads)
        ones = np.pad(np.ones((1, 1, *x.shape[2:]), np.float32), pads)
        if a.count_include_pad:
            ones = np.pad(np.ones((1, 1, x.shape[2] + p.top + p.bottom, x.shape[3] + p.left + p.right),
                                  np.float32), ((0, 0), (0, 0), (0, pads[2][1] - p.bottom), (0, pads[3][1] - p.right)))
        s = _windows(xp, kh, kw, *a.stride_hw, dh, dw)[:, :, :oh, :ow].sum(axis=(4, 5))
        cnt = _windows(ones, kh, kw, *a.stride_hw, dh, dw)[:, :, :oh, :ow].sum(axis=(4, 5))
        y = s / np.maximum(cnt, 1)
    return _from_nchw(apply_activation(y.astype(np.float32), a.activation), a.layout)


def _argmax_indices(win: Arr, in_shape: tuple[int, ...], a: A.PoolAttrs) -> Arr:
    n, c, oh, ow, kh, kw = win.shape
    k = win.reshape(n, c, oh, ow, kh * kw).argmax(axis=4)  # the first maximum in row-major window order
    h = np.arange(oh)[:, None] * a.stride_hw[0] - a.padding.top + (k // kw) * a.dilation_hw[0]
    w = np.arange(ow)[None, :] * a.stride_hw[1] - a.padding.left + (k % kw) * a.dilation_hw[1]
    plane = (np.arange(n)[:, None, None, None] * c + np.arange(c)[None, :, None, None]) * in_shape[2] * in_shape[3]
    return (plane + h * in_shape[3] + w).astype(np.int64)


def _bn(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.BatchNormAttrs = node.attrs
    x, gamma, beta, mean, var = ins
    assert x is not None and gamma is not None and beta is not None and mean is not None and var is not None
    axis = a.layout.channel_axis(x.ndim)
    shape = [1] * x.ndim
    shape[axis] = -1
    scale = gamma / np.sqrt(var + a.epsilon)
    return (x - mean.reshape(shape)) * scale.reshape(shape) + beta.reshape(shape)


def _clip(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ClipAttrs = node.attrs
    lo = -np.inf if a.min_value is None else a.min_value
    hi = np.inf if a.max_value is None else a.max_value
    return np.clip(_first(ins), lo, hi)


def _reduce(fn: Callable[..., Arr]) -> Callable[[Node, list[Arr | None], Graph], Arr]:
    def run(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
        a: A.ReduceAttrs = node.attrs
        y = fn(ins[0], axis=tuple(a.axes), keepdims=a.keepdims)
        return np.asarray(y).reshape(graph.tensors[node.outputs[0]].shape)
    return run


def _reduce_max(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    """The max over nothing is the smallest value of the output type (ONNX ReduceMax of an empty set)."""
    t = graph.tensors[node.outputs[0]]
    out = t.dtype  # values here are real numbers: only a plain integer/bool output has a finite lowest value
    lowest = -np.inf if out.is_float or t.quant is not None else 0 if out is DType.BOOL else np.iinfo(out.numpy()).min
    a: A.ReduceAttrs = node.attrs
    y = np.max(_first(ins), axis=tuple(a.axes), keepdims=a.keepdims, initial=lowest)
    return np.asarray(y).reshape(t.shape)


def _softmax(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.SoftmaxAttrs = node.attrs
    x = ins[0]
    assert x is not None
    z = (x - x.max(axis=a.axis, keepdims=True)) * a.beta
    e = np.exp(z)
    y = e / e.sum(axis=a.axis, keepdims=True)
    return np.log(y) if node.op is OpKind.LOG_SOFTMAX else y


def _elementwise_act(fn: Callable[[Arr, Arr], Arr]) -> Callable[[Node, list[Arr | None], Graph], Arr]:
    def run(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
        xs = [i for i in ins if i is not None]
        y = xs[0]
        for other in xs[1:]:
            y = fn(y, other)
        act = getattr(node.attrs, "activation", A.Activation.NONE)
        return apply_activation(y, act)
    return run


def _unary(fn: Callable[[Arr], Arr]) -> Callable[[Node, list[Arr | None], Graph], Arr]:
    def run(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
        assert ins[0] is not None
        return fn(ins[0])
    return run


def _first(ins: list[Arr | None]) -> Arr:
    x = ins[0]
    assert x is not None
    return x


def _hard_sigmoid(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.HardSigmoidAttrs = node.attrs
    return np.clip(a.alpha * _first(ins) + a.beta, 0, 1)


def _leaky(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    x = _first(ins)
    return np.where(x >= 0, x, node.attrs.alpha * x)


def _reshape(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    return _first(ins).reshape(graph.tensors[node.outputs[0]].shape)


def _transpose(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    return _first(ins).transpose(node.attrs.perm)


def _expand(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    return np.broadcast_to(_first(ins), graph.tensors[node.outputs[0]].shape)


def _concat(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ConcatAttrs = node.attrs
    return apply_activation(np.concatenate([i for i in ins if i is not None], axis=a.axis), a.activation)


def _pad(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.PadAttrs = node.attrs
    if a.mode == "constant":
        return np.pad(_first(ins), a.pads, constant_values=a.constant_value)
    if a.mode not in ("reflect", "edge", "wrap"):
        raise UnsupportedOpError(f"pad mode {a.mode} is not supported by the float executor", node=node.name)
    return np.pad(_first(ins), a.pads, mode=a.mode)  # type: ignore[call-overload]


def _slice(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.SliceAttrs = node.attrs
    x = ins[0]
    assert x is not None
    return x[tuple(slice(b, e, s) for b, e, s in zip(a.begin, a.end, a.step, strict=True))]


def _split(node: Node, ins: list[Arr | None], graph: Graph) -> list[Arr]:
    a: A.SplitAttrs = node.attrs
    cuts = np.cumsum(a.sizes)[:-1]
    return list(np.split(_first(ins), cuts, axis=a.axis))


def _layer_norm(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.LayerNormAttrs = node.attrs
    x = ins[0]
    assert x is not None
    # ONNX normalises over every axis from `axis` to the last, not over `axis` alone
    axes = tuple(range(a.axis % x.ndim, x.ndim)) if x.ndim else ()
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + a.epsilon)
    if len(ins) > 1 and ins[1] is not None:
        y = y * ins[1]
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2]
    return y


def _matmul(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.MatMulAttrs = node.attrs
    x, y = ins[0], ins[1]
    assert x is not None and y is not None
    if a.transpose_a:
        x = np.swapaxes(x, -1, -2)
    if a.transpose_b:
        y = np.swapaxes(y, -1, -2)
    return apply_activation(x @ y, a.activation)


def _erf(x: Arr) -> Arr:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution), vectorised: a per-element
    math.erf made BERT-base calibration spend seconds in its GELUs."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    return np.sign(x) * (1.0 - poly * np.exp(-a * a))


def _gelu(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    x = _first(ins).astype(np.float64)
    if node.attrs.approximate == "tanh":
        return (0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))).astype(np.float32)
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


def _resize_axis(size_in: int, size_out: int, a: A.ResizeAttrs) -> tuple[Arr, Arr, Arr]:
    """Source indices (lo, hi) and the weight of hi for one spatial axis, per ONNX Resize's coordinate modes."""
    out = np.arange(size_out, dtype=np.float64)
    if a.align_corners and size_out > 1:
        src = out * (size_in - 1) / (size_out - 1)
    elif a.half_pixel_centers or a.mode != "nearest":
        src = (out + 0.5) * size_in / size_out - 0.5
    else:
        src = out * size_in / size_out  # asymmetric, as nn.Upsample(mode="nearest") exports
    if a.mode == "nearest":
        idx = np.clip(np.floor(src + (0.5 if a.align_corners or a.half_pixel_centers else 0.0)), 0, size_in - 1)
        idx = idx.astype(np.int64)
        return idx, idx, np.zeros(size_out)
    src = np.clip(src, 0, size_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, size_in - 1)
    return lo, hi, src - lo


def _resize(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    """Nearest or (bi)linear resize; cubic is computed as linear (the zoo and cost models only need the shape)."""
    a: A.ResizeAttrs = node.attrs
    x = _to_nchw(_first(ins), a.layout)
    (hl, hh, hf), (wl, wh, wf) = (_resize_axis(x.shape[2], a.out_hw[0], a), _resize_axis(x.shape[3], a.out_hw[1], a))
    rows = x[:, :, hl, :] * (1 - hf)[:, None] + x[:, :, hh, :] * hf[:, None]
    y = rows[:, :, :, wl] * (1 - wf) + rows[:, :, :, wh] * wf
    return _from_nchw(y.astype(np.float32), a.layout)


def _gather(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.GatherAttrs = node.attrs
    data, idx = ins[0], ins[1]
    assert data is not None and idx is not None
    n = data.shape[a.axis]
    i = np.asarray(np.rint(idx), np.int64)
    # Negative indices count from the end (ONNX); calibration feeds synthetic values, so clamp into the table.
    return np.take(data, np.clip(np.where(i < 0, i + n, i), 0, n - 1), axis=a.axis)


_Run = Callable[[Node, list[Arr | None], Graph], "Arr | list[Arr]"]
_OPS: dict[OpKind, _Run] = {
    OpKind.CONV2D: _conv,
    OpKind.DEPTHWISE_CONV2D: _conv,
    OpKind.FULLY_CONNECTED: _fc,
    OpKind.MATMUL: _matmul,
    OpKind.MAX_POOL2D: _pool,
    OpKind.AVG_POOL2D: _pool,
    OpKind.BATCH_NORM: _bn,
    OpKind.LAYER_NORM: _layer_norm,
    OpKind.CLIP: _clip,
    OpKind.RELU: _unary(lambda x: np.maximum(x, 0)),
    OpKind.SIGMOID: _unary(sigmoid),
    OpKind.TANH: _unary(np.tanh),
    OpKind.HARD_SWISH: _unary(lambda x: x * np.clip(x + 3, 0, 6) / 6),
    OpKind.HARD_SIGMOID: _hard_sigmoid,
    OpKind.GELU: _gelu,
    OpKind.LEAKY_RELU: _leaky,
    OpKind.EXP: _unary(np.exp),
    OpKind.SQRT: _unary(np.sqrt),
    OpKind.RSQRT: _unary(lambda x: 1.0 / np.sqrt(x)),
    OpKind.ABS: _unary(np.abs),
    OpKind.NEG: _unary(np.negative),
    OpKind.ADD: _elementwise_act(np.add),
    OpKind.SUB: _elementwise_act(np.subtract),
    OpKind.MUL: _elementwise_act(np.multiply),
    OpKind.DIV: _elementwise_act(np.divide),
    OpKind.MAXIMUM: _elementwise_act(np.maximum),
    OpKind.MINIMUM: _elementwise_act(np.minimum),
    OpKind.MEAN: _reduce(np.mean),
    OpKind.REDUCE_MAX: _reduce_max,
    OpKind.REDUCE_SUM: _reduce(np.sum),
    OpKind.SOFTMAX: _softmax,
    OpKind.LOG_SOFTMAX: _softmax,
    OpKind.RESHAPE: _reshape,
    OpKind.TRANSPOSE: _transpose,
    OpKind.CONCAT: _concat,
    OpKind.PAD: _pad,
    OpKind.SLICE: _slice,
    OpKind.SPLIT: _split,
    OpKind.IDENTITY: _unary(lambda x: x),
    OpKind.CAST: _unary(lambda x: x),
    OpKind.EXPAND: _expand,
    # Values are already real numbers here: (de)quantize only changes the grid, done by fake-quantizing outputs.
    OpKind.QUANTIZE: _unary(lambda x: x),
    OpKind.DEQUANTIZE: _unary(lambda x: x),
    OpKind.RESIZE: _resize,
    OpKind.GATHER: _gather,
}


_OPS.update(EXTRA_OPS)
_OPS.update(MATH_OPS)
_OPS[OpKind.GRID_SAMPLE] = grid_sample
_OPS[OpKind.NON_MAX_SUPPRESSION] = nms
_OPS[OpKind.ROI_ALIGN] = roi_align


def supported_ops() -> frozenset[OpKind]:
    return frozenset(_OPS)


def run_float(graph: Graph, inputs: Mapping[str, Arr], keep_all: bool = False) -> dict[str, Arr]:
    """Execute ``graph`` in float32 on real-valued ``inputs`` (name -> array; graph inputs in order if the
    names are missing). Returns the graph outputs, or every computed tensor when ``keep_all``."""
    values: dict[str, Arr] = {}
    for name in graph.inputs:
        if name not in inputs:
            raise EdgesimError(f"no value given for graph input '{name}'", field="inputs")
        t = graph.tensors[name]
        x = np.asarray(inputs[name], np.float32)
        if tuple(x.shape) != t.shape:
            raise EdgesimError(f"input '{name}' has shape {x.shape}, the graph expects {t.shape}", field="inputs")
        values[name] = fake_quantize(t, x)
    for t in graph.tensors.values():
        if t.is_const and t.name not in values:
            assert t.data is not None
            if t.quant is not None or t.dtype.is_float:
                values[t.name] = dequantize(t, t.data)
            else:
                # shape operands, indices; int4/int2 constants arrive as ml_dtypes arrays: numbers in int8 here
                values[t.name] = t.data.astype(t.dtype.numpy()) if t.dtype.ml_name else t.data
    for node in graph.nodes:
        fn = _OPS.get(node.op)
        if fn is None:
            raise UnsupportedOpError(f"{node.op.value} is not supported by the float executor", node=node.name)
        args = [values[i] if i else None for i in node.inputs]
        res = fn(node, args, graph)
        outs = res if isinstance(res, list) else [res]
        # a run-time (dynamic) quantization's grid is unknown here: its real values pass through unrounded
        dynamic = node.op is OpKind.QUANTIZE and node.attrs.dynamic
        for name, y in zip(node.outputs, outs, strict=True):
            y = np.asarray(y, np.float32)
            values[name] = y if dynamic else fake_quantize(graph.tensors[name], y)
    if keep_all:
        return {k: v for k, v in values.items() if not graph.tensors[k].is_const}
    return {o: values[o] for o in graph.outputs}


def synthetic_inputs(graph: Graph, num_samples: int = 4, seed: int = 0) -> list[dict[str, Arr]]:
    """Seeded standard-normal inputs for every graph input (calibration when the user gives no data). RoiAlign's
    batch indices get 0, the one index valid for any batch (random reals would point past the batch)."""
    rng = np.random.default_rng(seed)
    batch_index = {nd.inputs[2] for nd in graph.nodes if nd.op is OpKind.ROI_ALIGN}

    def one(name: str) -> Arr:
        shape = graph.tensors[name].shape
        return np.zeros(shape, np.float32) if name in batch_index else rng.standard_normal(shape).astype(np.float32)

    return [{n: one(n) for n in graph.inputs} for _ in range(num_samples)]
