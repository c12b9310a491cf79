"""Run an IR graph node by node on the bit-exact int8 kernels (TFLite reference-kernel semantics)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from edgesim.errors import ModelError, ShapeError, UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor
from edgesim.kernels import executor_ext, mac, nonmac, onnx_int
from edgesim.kernels.requant import (
    activation_range,
    quantize_multiplier,
    quantize_multipliers,
    requantize_array,
)

_Values = dict[str, np.ndarray]


# Ops whose TFLite kernels go through ruy's GEMM, whose ApplyMultiplier rounds once; the reference conv, add and
# pool kernels use gemmlowp's double rounding. Found by comparing every intermediate with the interpreter.
_SINGLE_ROUNDING_OPS = frozenset({OpKind.FULLY_CONNECTED, OpKind.MATMUL})


class _Ctx:
    def __init__(self, graph: Graph, values: _Values, single_rounding: bool | None) -> None:
        self.graph = graph
        self.values = values
        self.forced_rounding = single_rounding
        self.single_rounding = False
        self.extra_tensors: dict[str, Tensor] = {}  # layout shadows of tensors (executor_ext's NCHW wrapper)

    def enter(self, node: Node) -> None:
        if self.forced_rounding is None:
            self.single_rounding = node.op in _SINGLE_ROUNDING_OPS
        else:
            self.single_rounding = self.forced_rounding

    def tensor(self, name: str) -> Tensor:
        return self.extra_tensors.get(name) or self.graph.tensor(name)

    def value(self, name: str) -> np.ndarray:
        if name in self.values:
            return self.values[name]
        t = self.graph.tensor(name)
        if t.data is None:
            raise ModelError(f"tensor '{name}' has no value")
        return np.asarray(t.data)


def _quant(t: Tensor, node: Node) -> QuantParams:
    if t.quant is None:
        raise UnsupportedOpError(f"tensor '{t.name}' is not quantized; the int8 executor needs quantized tensors",
                                 node=node.name)
    return t.quant


def _act(node: Node, activation: A.Activation, out_q: QuantParams) -> tuple[int, int]:
    if activation in (A.Activation.NONE, A.Activation.RELU, A.Activation.RELU6, A.Activation.RELU_N1_TO_1):
        return activation_range(activation.value, out_q.scale, out_q.zero_point)
    raise UnsupportedOpError(f"fused activation {activation.value} is not supported by the int8 executor",
                             node=node.name)


def _bias(ctx: _Ctx, node: Node, n_out: int) -> np.ndarray:
    if len(node.inputs) > 2 and node.inputs[2]:
        return np.ascontiguousarray(ctx.value(node.inputs[2]), dtype=np.int32).reshape(n_out)
    return np.zeros(n_out, dtype=np.int32)


def _channel_multipliers(in_q: QuantParams, w_q: QuantParams, out_q: QuantParams, n_out: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    w_scales = np.asarray(w_q.scales, dtype=np.float64)
    if w_scales.size == 1:
        w_scales = np.full(n_out, w_scales[0])
    # double arithmetic on the float32 scales, as PopulateConvolutionQuantizationParams does
    return quantize_multipliers(float(in_q.scale) * w_scales / float(out_q.scale))


def _weights_zero_offset(w_q: QuantParams, node: Node) -> int:
    zps = set(w_q.zero_points)
    if len(zps) != 1:
        raise UnsupportedOpError("per-channel weight zero points must all be equal", node=node.name)
    return int(zps.pop())


def _act_clip(node: Node, activation: A.Activation, out_t: Tensor, y: np.ndarray) -> np.ndarray:
    if activation is A.Activation.NONE or out_t.quant is None:
        return y
    lo, hi = _act(node, activation, out_t.quant)
    return np.clip(y, lo, hi).astype(y.dtype)


def _conv_onnx(ctx: _Ctx, node: Node) -> None:
    """NCHW (ONNX QLinearConv / ConvInteger / QDQ) convolutions: ONNX requantization semantics."""
    at: A.ConvAttrs = node.attrs
    x_t, w_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    bias = ctx.value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    p = at.padding
    y = onnx_int.conv2d_nchw(x_t, ctx.value(node.inputs[0]), w_t, ctx.value(node.inputs[1]), bias, out_t,
                             at.stride_hw, at.dilation_hw, (p.top, p.left, p.bottom, p.right), max(at.groups, 1))
    ctx.values[node.outputs[0]] = _act_clip(node, at.activation, out_t, y)


def _conv(ctx: _Ctx, node: Node) -> None:
    at: A.ConvAttrs = node.attrs
    if at.layout is not A.Layout.NHWC:
        _conv_onnx(ctx, node)
        return
    x_t, w_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    x = np.ascontiguousarray(ctx.value(node.inputs[0]), dtype=np.int8)
    w = np.asarray(ctx.value(node.inputs[1]), dtype=np.int8)
    in_q, w_q, out_q = _quant(x_t, node), _quant(w_t, node), _quant(out_t, node)
    if _weights_zero_offset(w_q, node) != 0:
        raise UnsupportedOpError("int8 convolution weights must be symmetric (zero point 0)", node=node.name)
    if node.op is OpKind.DEPTHWISE_CONV2D:
        # 1HW(C*M) -> OHWI with I = 1, one group per input channel
        w = w.reshape(w.shape[1], w.shape[2], w.shape[3]).transpose(2, 0, 1)[..., None]
        groups = x.shape[3]
    else:
        groups = at.groups
    w = np.ascontiguousarray(w)
    n_out = w.shape[0]
    if x.shape[3] != w.shape[3] * groups:
        raise ShapeError(f"input has {x.shape[3]} channels, weights expect {w.shape[3] * groups}", node=node.name)
    mult, shift = _channel_multipliers(in_q, w_q, out_q, n_out)
    out_hw = (out_t.shape[1], out_t.shape[2])
    args = (_bias(ctx, node, n_out), in_q.zero_point, mult, shift, out_q.zero_point, at.stride_hw,
            at.dilation_hw, (at.padding.top, at.padding.left), out_hw, groups, _act(node, at.activation, out_q),
            ctx.single_rounding)
    if w_t.dtype in (DType.INT4,):
        y = mac.conv2d_int4(x, mac.pack_int4(w), w.shape, *args)
    else:
        y = mac.conv2d_int8(x, w, *args)
    ctx.values[node.outputs[0]] = y


def _fully_connected(ctx: _Ctx, node: Node) -> None:
    at: A.FullyConnectedAttrs = node.attrs
    x_t, w_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    if onnx_int.needs_onnx_path(x_t, w_t, out_t):
        bias = ctx.value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        k = w_t.shape[1]
        y = onnx_int.matmul(x_t, ctx.value(node.inputs[0]).reshape(-1, k), w_t, ctx.value(node.inputs[1]), out_t,
                            b_is_nk=True, bias=bias)
        ctx.values[node.outputs[0]] = _act_clip(node, at.activation, out_t, y).reshape(out_t.shape)
        return
    w = np.ascontiguousarray(ctx.value(node.inputs[1]), dtype=np.int8)
    n_out, k = w.shape
    x = np.ascontiguousarray(ctx.value(node.inputs[0]), dtype=np.int8).reshape(-1, k)
    in_q, w_q, out_q = _quant(x_t, node), _quant(w_t, node), _quant(out_t, node)
    mult, shift = _channel_multipliers(in_q, w_q, out_q, n_out)
    args = (_bias(ctx, node, n_out), in_q.zero_point, _weights_zero_offset(w_q, node), mult, shift,
            out_q.zero_point, _act(node, at.activation, out_q), ctx.single_rounding)
    if w_t.dtype is DType.INT4:
        y = mac.fully_connected_int4(x, mac.pack_int4(w), n_out, *args)
    else:
        y = mac.fully_connected_int8(x, w, *args)
    ctx.values[node.outputs[0]] = y.reshape(out_t.shape)


def _matmul(ctx: _Ctx, node: Node) -> None:
    at: A.MatMulAttrs = node.attrs
    a_t, b_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    if onnx_int.needs_onnx_path(a_t, b_t, out_t):
        av, bv = np.asarray(ctx.value(node.inputs[0])), np.asarray(ctx.value(node.inputs[1]))
        av = np.swapaxes(av, -1, -2) if at.transpose_a else av
        bv = np.swapaxes(bv, -1, -2) if at.transpose_b else bv
        y = onnx_int.matmul(a_t, av, b_t, bv, out_t, b_is_nk=False)
        ctx.values[node.outputs[0]] = _act_clip(node, at.activation, out_t, y)
        return
    a = np.asarray(ctx.value(node.inputs[0]), dtype=np.int8)
    b = np.asarray(ctx.value(node.inputs[1]), dtype=np.int8)
    if at.transpose_a:
        a = np.swapaxes(a, -1, -2)
    # the kernel wants the right operand as (N, K)
    b = b if at.transpose_b else np.swapaxes(b, -1, -2)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:]).reshape(-1, *a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:]).reshape(-1, *b.shape[-2:])
    a_q, b_q, out_q = _quant(a_t, node), _quant(b_t, node), _quant(out_t, node)
    mult, shift = quantize_multipliers(np.full(b.shape[1], float(a_q.scale) * float(b_q.scale) / float(out_q.scale)))
    zeros = np.zeros(b.shape[1], dtype=np.int32)
    act = _act(node, at.activation, out_q)
    ys = [mac.fully_connected_int8(np.ascontiguousarray(a[i]), np.ascontiguousarray(b[i]), zeros, a_q.zero_point,
                                   b_q.zero_point, mult, shift, out_q.zero_point, act, ctx.single_rounding)
          for i in range(a.shape[0])]
    ctx.values[node.outputs[0]] = np.stack(ys).reshape(out_t.shape)


def _binary(ctx: _Ctx, node: Node) -> None:
    at: A.ElementwiseAttrs = node.attrs
    if len(node.inputs) != 2:
        raise UnsupportedOpError(f"{node.op.value} with {len(node.inputs)} inputs", node=node.name)
    a_t, b_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1]), ctx.tensor(node.outputs[0])
    a_q, b_q, out_q = _quant(a_t, node), _quant(b_t, node), _quant(out_t, node)
    a = np.asarray(ctx.value(node.inputs[0]), dtype=np.int8)
    b = np.asarray(ctx.value(node.inputs[1]), dtype=np.int8)
    shape = np.broadcast_shapes(a.shape, b.shape)
    af = np.ascontiguousarray(np.broadcast_to(a, shape)).ravel()
    bf = np.ascontiguousarray(np.broadcast_to(b, shape)).ravel()
    act = _act(node, at.activation, out_q)
    if node.op is OpKind.ADD:
        left_shift = 20
        # float32 max and doubling, then double divisions: as add.cc's Prepare
        twice_max = float(2 * max(np.float32(a_q.scale), np.float32(b_q.scale)))
        am, ash = quantize_multiplier(float(a_q.scale) / twice_max)
        bm, bsh = quantize_multiplier(float(b_q.scale) / twice_max)
        om, osh = quantize_multiplier(twice_max / float(np.float32((1 << left_shift) * np.float32(out_q.scale))))
        y = nonmac.add_int8(af, bf, a_q.zero_point, b_q.zero_point, out_q.zero_point, left_shift, am, ash, bm, bsh,
                            om, osh, act, ctx.single_rounding)
    elif node.op is OpKind.MUL:
        m, s = quantize_multiplier(float(a_q.scale) * float(b_q.scale) / float(out_q.scale))
        y = nonmac.mul_int8(af, bf, a_q.zero_point, b_q.zero_point, out_q.zero_point, m, s, act,
                            ctx.single_rounding)
    else:
        raise UnsupportedOpError(f"{node.op.value} is not supported by the int8 executor", node=node.name)
    ctx.values[node.outputs[0]] = y.reshape(out_t.shape)


def _pool(ctx: _Ctx, node: Node) -> None:
    at: A.PoolAttrs = node.attrs
    if at.dilation_hw != (1, 1) or len(node.outputs) > 1:
        raise UnsupportedOpError("integer pooling with dilations or argmax indices", node=node.name)
    out_t = ctx.tensor(node.outputs[0])
    x = np.ascontiguousarray(ctx.value(node.inputs[0]), dtype=np.int8)
    act = _act(node, at.activation, _quant(out_t, node))
    ctx.values[node.outputs[0]] = nonmac.pool2d_int8(
        x, at.kernel_hw, at.stride_hw, (at.padding.top, at.padding.left), (out_t.shape[1], out_t.shape[2]),
        node.op is OpKind.MAX_POOL2D, act)


def _mean(ctx: _Ctx, node: Node) -> None:
    at: A.ReduceAttrs = node.attrs
    x_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    x = np.ascontiguousarray(ctx.value(node.inputs[0]), dtype=np.int8)
    if x.ndim != 4 or tuple(sorted(at.axes)) != (1, 2):
        raise UnsupportedOpError("int8 MEAN is supported over the H,W axes of NHWC tensors only", node=node.name)
    in_q, out_q = _quant(x_t, node), _quant(out_t, node)
    m, s = quantize_multiplier(float(in_q.scale) / float(out_q.scale))
    y = nonmac.mean_hw_int8(x, in_q.zero_point, out_q.zero_point, m, s, ctx.single_rounding)
    ctx.values[node.outputs[0]] = y.reshape(out_t.shape)


def _softmax(ctx: _Ctx, node: Node) -> None:
    at: A.SoftmaxAttrs = node.attrs
    x_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    x = np.asarray(ctx.value(node.inputs[0]), dtype=np.int8)
    if at.axis not in (-1, x.ndim - 1):
        raise UnsupportedOpError("int8 softmax runs over the last axis only", node=node.name)
    out_q = _quant(out_t, node)
    table = nonmac.softmax_table(_quant(x_t, node).scale, at.beta)
    y = nonmac.softmax_int8(np.ascontiguousarray(x.reshape(-1, x.shape[-1])), table, out_q.scale, out_q.zero_point)
    ctx.values[node.outputs[0]] = y.reshape(x.shape)


def _lut_activation(ctx: _Ctx, node: Node) -> None:
    x_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    in_q, out_q = _quant(x_t, node), _quant(out_t, node)
    kind = {OpKind.SIGMOID: "logistic", OpKind.TANH: "tanh", OpKind.HARD_SWISH: "hard_swish"}[node.op]
    table = nonmac.activation_table(kind, in_q.scale, in_q.zero_point, out_q.scale, out_q.zero_point)
    ctx.values[node.outputs[0]] = nonmac.lut_int8(np.asarray(ctx.value(node.inputs[0]), dtype=np.int8), table)


def _requant(x: np.ndarray, in_q: QuantParams, out_q: QuantParams, lo: int, hi: int, sr: bool) -> np.ndarray:
    m, s = quantize_multiplier(float(in_q.scale) / float(out_q.scale))
    acc = np.asarray(x, dtype=np.int64) - in_q.zero_point
    return np.clip(requantize_array(acc, m, s, sr) + out_q.zero_point, lo, hi).astype(np.int8)


def _clamp_activation(ctx: _Ctx, node: Node) -> None:
    x_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    in_q, out_q = _quant(x_t, node), _quant(out_t, node)
    if node.op is OpKind.RELU:
        lo, hi = activation_range("relu", out_q.scale, out_q.zero_point)
    else:
        at: A.ClipAttrs = node.attrs
        lo, hi = -128, 127
        if at.min_value is not None:
            lo = max(lo, out_q.zero_point + int(np.round(np.float32(at.min_value) / np.float32(out_q.scale))))
        if at.max_value is not None:
            hi = min(hi, out_q.zero_point + int(np.round(np.float32(at.max_value) / np.float32(out_q.scale))))
    x = np.asarray(ctx.value(node.inputs[0]))
    ctx.values[node.outputs[0]] = _requant(x, in_q, out_q, lo, hi, ctx.single_rounding)


def _quantize(ctx: _Ctx, node: Node) -> None:
    if getattr(node.attrs, "dynamic", False):
        raise UnsupportedOpError("run-time (dynamic) quantization: the integer executor needs the scale and zero "
                                 "point fixed in the model", node=node.name)
    x_t, out_t = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    out_q = _quant(out_t, node)
    x = np.asarray(ctx.value(node.inputs[0]))
    lo, hi = onnx_int.int_range(out_t.dtype)  # int4 values live in int8 storage but saturate at 4 bits
    if x_t.dtype.is_float:
        scale, zp = _axis_params(out_q, x.ndim)
        r = x.astype(np.float32) / scale
        if ctx.graph.source_format == "onnx":
            q = np.rint(r)  # ONNX QuantizeLinear rounds ties to even
        else:
            q = np.sign(r) * np.floor(np.abs(r) + np.float32(0.5))  # std::round, half away from zero
        y = np.clip(q.astype(np.int64) + zp, lo, hi)
        ctx.values[node.outputs[0]] = y.astype(out_t.dtype.numpy())
    else:
        y = _requant(x, _quant(x_t, node), out_q, lo, hi, ctx.single_rounding)
        ctx.values[node.outputs[0]] = y.astype(out_t.dtype.numpy())


def _dequantize(ctx: _Ctx, node: Node) -> None:
    x_t = ctx.tensor(node.inputs[0])
    q = _quant(x_t, node)
    x = np.asarray(ctx.value(node.inputs[0]), dtype=np.int32)
    scale, zp = _axis_params(q, x.ndim)
    ctx.values[node.outputs[0]] = (scale * (x - zp).astype(np.float32)).astype(np.float32)


def _axis_params(q: QuantParams, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 scales and int64 zero points shaped to broadcast along the quantization axis (per-axis)."""
    s, z = np.asarray(q.scales, np.float32), np.asarray(q.zero_points, np.int64)
    if q.axis is None or s.size == 1:
        return s.reshape(()) if s.size == 1 else s, z.reshape(()) if z.size == 1 else z
    shape = [1] * rank
    shape[q.axis] = -1
    return s.reshape(shape), z.reshape(shape)


def _reshape(ctx: _Ctx, node: Node) -> None:
    out_t = ctx.tensor(node.outputs[0])
    ctx.values[node.outputs[0]] = np.asarray(ctx.value(node.inputs[0])).reshape(out_t.shape)


def _transpose(ctx: _Ctx, node: Node) -> None:
    at: A.TransposeAttrs = node.attrs
    ctx.values[node.outputs[0]] = np.ascontiguousarray(np.transpose(ctx.value(node.inputs[0]), at.perm))


def _pad(ctx: _Ctx, node: Node) -> None:
    at: A.PadAttrs = node.attrs
    if at.mode != "constant":
        raise UnsupportedOpError(f"pad mode '{at.mode}'", node=node.name)
    out_t = ctx.tensor(node.outputs[0])
    # quantized PAD fills with the output zero point (the quantized real 0)
    fill = out_t.quant.zero_point if out_t.quant is not None else at.constant_value
    ctx.values[node.outputs[0]] = np.pad(ctx.value(node.inputs[0]), at.pads, constant_values=fill)


def _concat(ctx: _Ctx, node: Node) -> None:
    at: A.ConcatAttrs = node.attrs
    out_t = ctx.tensor(node.outputs[0])
    parts = []
    for name in node.inputs:
        t, v = ctx.tensor(name), np.asarray(ctx.value(name))
        if t.quant is not None and out_t.quant is not None and t.quant != out_t.quant:
            # ConcatenationWithScaling: float rescale, round half away from zero
            scale = np.float32(t.quant.scale) / np.float32(out_t.quant.scale)
            bias = np.float32(-t.quant.zero_point) * scale
            r = v.astype(np.float32) * scale + bias
            q = np.sign(r) * np.floor(np.abs(r) + np.float32(0.5))
            v = np.clip(q.astype(np.int64) + out_t.quant.zero_point, -128, 127).astype(np.int8)
        parts.append(v)
    ctx.values[node.outputs[0]] = np.concatenate(parts, axis=at.axis)


def _identity(ctx: _Ctx, node: Node) -> None:
    ctx.values[node.outputs[0]] = np.asarray(ctx.value(node.inputs[0]))


_DISPATCH: dict[OpKind, Callable[[_Ctx, Node], None]] = {
    OpKind.CONV2D: _conv,
    OpKind.DEPTHWISE_CONV2D: _conv,
    OpKind.FULLY_CONNECTED: _fully_connected,
    OpKind.MATMUL: _matmul,
    OpKind.ADD: _binary,
    OpKind.MUL: _binary,
    OpKind.AVG_POOL2D: _pool,
    OpKind.MAX_POOL2D: _pool,
    OpKind.MEAN: _mean,
    OpKind.SOFTMAX: _softmax,
    OpKind.SIGMOID: _lut_activation,
    OpKind.TANH: _lut_activation,
    OpKind.HARD_SWISH: _lut_activation,
    OpKind.RELU: _clamp_activation,
    OpKind.CLIP: _clamp_activation,
    OpKind.QUANTIZE: _quantize,
    OpKind.DEQUANTIZE: _dequantize,
    OpKind.RESHAPE: _reshape,
    OpKind.TRANSPOSE: _transpose,
    OpKind.PAD: _pad,
    OpKind.CONCAT: _concat,
    OpKind.IDENTITY: _identity,
}


_DISPATCH.update(executor_ext.EXT_KERNELS)
for _k in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D, OpKind.MEAN):
    _DISPATCH[_k] = executor_ext.nchw_wrapped(_DISPATCH[_k])


def supported_ops() -> frozenset[OpKind]:
    return frozenset(_DISPATCH)


def execute_all(graph: Graph, inputs: Mapping[str, np.ndarray], single_rounding: bool | None = None) -> _Values:
    """Run the graph; return the value of every graph input and node output tensor.

    ``single_rounding`` None reproduces the TFLite interpreter: double rounding (gemmlowp) everywhere except the
    GEMM-backed ops (fully connected, batch matmul), which round once like ruy. True/False force one mode
    everywhere (TFLM with TFLITE_SINGLE_ROUNDING, or plain gemmlowp semantics).
    """
    values: _Values = {}
    for name in graph.inputs:
        if name not in inputs:
            raise ModelError(f"no value given for graph input '{name}'")
        t = graph.tensor(name)
        v = np.asarray(inputs[name])
        if tuple(v.shape) != tuple(t.shape):
            raise ShapeError(f"input '{name}' has shape {tuple(v.shape)}, the graph expects {tuple(t.shape)}")
        values[name] = v.astype(t.dtype.numpy(), copy=False)
    unsupported = sorted({n.op.value for n in graph.nodes if n.op not in _DISPATCH})
    if unsupported:
        raise UnsupportedOpError(f"graph '{graph.name}' uses ops the executor cannot run: {', '.join(unsupported)}")
    ctx = _Ctx(graph, values, single_rounding)
    for node in graph.nodes:
        executor_ext.check_uint8(graph, node)
        ctx.enter(node)
        _DISPATCH[node.op](ctx, node)
    return values


def execute(graph: Graph, inputs: Mapping[str, np.ndarray], single_rounding: bool | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` on ``inputs`` (graph input name -> array); return graph output name -> array."""
    values = execute_all(graph, inputs, single_rounding)
    return {name: values[name] for name in graph.outputs}


def zero_fractions(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Per node: fraction of its (first) output's elements that are zero in real terms (q == zero point)."""
    values = execute_all(graph, inputs)
    result: dict[str, float] = {}
    for node in graph.nodes:
        t = graph.tensor(node.outputs[0])
        v = values[node.outputs[0]]
        zero = t.quant.zero_point if t.quant is not None else 0
        result[node.name] = float(np.count_nonzero(v == zero)) / max(v.size, 1)
    return result
