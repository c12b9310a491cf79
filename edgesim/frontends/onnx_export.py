"""Write an IR graph as an ONNX model (float, or quantized in QDQ form).

Quantized tensors become QDQ: a quantized constant is an integer initializer read through DequantizeLinear (with
``axis`` when per-channel); a quantized activation keeps its IR name on the integer output of a QuantizeLinear and
is read by its consumers through a DequantizeLinear. Every computing op therefore runs on float values, which is
how ONNX expresses quantized models that tools (and edgesim's importer) fold back into integer ops.

NHWC graphs (TFLite) are exported too: each spatial op (conv, pool, batch norm, LRN, resize) is wrapped in
Transposes to and from NCHW and its constant weights are re-laid-out (OHWI -> OIHW), so the model is valid and
computes the same values, but re-importing it gives an NCHW graph with those Transposes, not the original graph.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgesim.errors import EdgesimError, ModelError, UnsupportedOpError
from edgesim.frontends.onnx_export_ext import EXT_EXPORT
from edgesim.frontends.onnx_export_shape import SHAPE_EXPORT
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor

MIN_OPSET = 14  # HardSwish; LayerNormalization additionally needs 17

_ONNX_TYPE: dict[DType, int] = {
    DType.BOOL: TensorProto.BOOL,
    DType.INT4: TensorProto.INT8,  # held unpacked in int8: values fit, ONNX before opset 21 has no int4
    DType.UINT4: TensorProto.UINT8,
    DType.INT8: TensorProto.INT8,
    DType.UINT8: TensorProto.UINT8,
    DType.INT16: TensorProto.INT16,
    DType.INT32: TensorProto.INT32,
    DType.INT64: TensorProto.INT64,
    DType.FP16: TensorProto.FLOAT16,
    DType.FP32: TensorProto.FLOAT,
    DType.FP64: TensorProto.DOUBLE,
}

_UNARY = {
    OpKind.RELU: "Relu", OpKind.SIGMOID: "Sigmoid", OpKind.TANH: "Tanh", OpKind.ERF: "Erf",
    OpKind.SQRT: "Sqrt", OpKind.EXP: "Exp", OpKind.LOG: "Log", OpKind.ABS: "Abs", OpKind.NEG: "Neg",
    OpKind.HARD_SWISH: "HardSwish", OpKind.IDENTITY: "Identity",
}
_BINARY = {OpKind.SUB: "Sub", OpKind.MUL: "Mul", OpKind.DIV: "Div", OpKind.POW: "Pow"}
# Op kinds added to the IR later than this exporter are looked up by name, so a missing one is only a
# clean UnsupportedOpError at export time, never an import failure.
_COMPARE = {"EQUAL": "Equal", "LESS": "Less", "GREATER": "Greater"}
# NHWC (TFLite) weight layouts -> ONNX: conv OHWI -> OIHW, depthwise 1HW(C*M) -> (C*M)1HW,
# transpose conv OHWI -> IOHW (ONNX ConvTranspose weights are (C_in, C_out/groups, kh, kw)).
_WEIGHT_PERM: dict[OpKind, tuple[int, ...]] = {
    OpKind.CONV2D: (0, 3, 1, 2), OpKind.DEPTHWISE_CONV2D: (3, 0, 1, 2), OpKind.CONV_TRANSPOSE2D: (3, 0, 1, 2),
}
_NHWC_SENSITIVE = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.CONV_TRANSPOSE2D, OpKind.MAX_POOL2D,
                   OpKind.AVG_POOL2D, OpKind.BATCH_NORM, OpKind.LRN, OpKind.RESIZE)


def _onnx_type(dt: DType, what: str) -> int:
    if dt not in _ONNX_TYPE:
        raise ModelError(f"{what} has dtype {dt.label}, which the ONNX exporter cannot write")
    return _ONNX_TYPE[dt]


class _Exporter:
    def __init__(self, graph: Graph, opset: int) -> None:
        self.g = graph
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, TensorProto] = {}
        self.float_of: dict[str, str] = {}  # quantized IR tensor -> name of its dequantized float value
        self.int_of: dict[str, str] = {}  # quantized IR tensor -> name of its integer value
        self.graph_outputs = set(graph.outputs)
        self.qnames: dict[str, tuple[str, str, int | None]] = {}
        self.extra: dict[str, Tensor] = {}  # constants re-laid-out for NCHW (NHWC graphs)
        self.permuted: dict[tuple[str, tuple[int, ...]], str] = {}
        self.names: set[str] = set(graph.tensors)
        self.node_names: set[str] = {n.name for n in graph.nodes}
        self.current = ""

    def tensor(self, name: str) -> Tensor:
        return self.extra[name] if name in self.extra else self.g.tensor(name)

    # -- naming and constants ---------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        cand, k = base, 0
        while cand in self.names:
            k += 1
            cand = f"{base}_{k}"
        self.names.add(cand)
        return cand

    def init(self, base: str, arr: np.ndarray, exact: bool = False) -> str:
        name = base if exact else self.fresh(base)
        self.names.add(name)
        self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def ints(self, base: str, values: Any) -> str:
        return self.init(base, np.asarray(list(values), dtype=np.int64))

    def emit(self, op_type: str, inputs: list[str], outputs: list[str], name: str | None = None,
             **attrs: Any) -> None:
        base = name or f"{self.current}__{op_type.lower()}"
        node_name = base
        k = 0
        while node_name in self.node_names and name is None:
            k += 1
            node_name = f"{base}_{k}"
        self.node_names.add(node_name)
        clean = {k2: v for k2, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=node_name, **clean))

    def tmp(self, base: str) -> str:
        return self.fresh(f"{base}__t")

    # -- quantization -----------------------------------------------------------------------------------------
    def qparams(self, t: Tensor) -> tuple[str, str, int | None]:
        """Names of the scale and zero-point initializers of ``t`` (made once per tensor), and its axis."""
        if t.name in self.qnames:
            return self.qnames[t.name]
        q = t.quant
        assert q is not None
        zp_np = np.int8 if t.dtype is DType.INT4 else np.uint8 if t.dtype is DType.UINT4 else t.dtype.numpy()
        axis = self._axis(t, q)
        if axis is None or (len(q.scales) == 1 and t.shape and t.shape[axis] != 1):
            axis = None
            scale = np.array(q.scales[0], dtype=np.float32)
            zp = np.array(q.zero_points[0], dtype=zp_np)
        else:
            scale = np.asarray(q.scales, dtype=np.float32)
            zp = np.asarray(q.zero_points, dtype=zp_np)
        names = (self.init(f"{t.name}__scale", scale), self.init(f"{t.name}__zero_point", zp), axis)
        self.qnames[t.name] = names
        return names

    @staticmethod
    def _axis(t: Tensor, q: QuantParams) -> int | None:
        if q.axis is None:
            return None
        return q.axis % len(t.shape) if t.shape else 0

    def _check_qdq_type(self, t: Tensor, quantize: bool) -> None:
        allowed = {DType.INT8, DType.UINT8, DType.INT4, DType.UINT4}
        if not quantize:
            allowed.add(DType.INT32)  # DequantizeLinear reads int32 (biases) since opset 10
        if self.opset >= 21:
            allowed |= {DType.INT16}
        if t.dtype not in allowed:
            raise ModelError(f"tensor '{t.name}' is quantized as {t.dtype.label}, which ONNX opset {self.opset} "
                             f"{'QuantizeLinear' if quantize else 'DequantizeLinear'} cannot express")

    def int_value(self, name: str) -> str:
        """The ONNX value holding the integer contents of quantized IR tensor ``name``."""
        t = self.tensor(name)
        if name in self.int_of:
            return self.int_of[name]
        if t.is_const:
            assert t.data is not None
            _onnx_type(t.dtype, f"constant '{name}'")
            held = np.int8 if t.dtype is DType.INT4 else np.uint8 if t.dtype is DType.UINT4 else t.dtype.numpy()
            self.int_of[name] = self.init(f"{name}__q", np.asarray(t.data).astype(held).reshape(t.shape))
            return self.int_of[name]
        # Graph inputs and QUANTIZE outputs carry the IR name on their integer value.
        self.int_of[name] = name
        return name

    def use(self, name: str) -> str:
        """The ONNX value an op reads for IR tensor ``name`` (float for quantized tensors)."""
        if not name:
            return ""
        t = self.tensor(name)
        if t.quant is None:
            if t.is_const and name not in self.inits:
                assert t.data is not None
                _onnx_type(t.dtype, f"constant '{name}'")
                self.init(name, np.asarray(t.data).astype(t.dtype.numpy()).reshape(t.shape), exact=True)
            return name
        if name not in self.float_of:
            self._check_qdq_type(t, quantize=False)
            src = self.int_value(name)
            s, z, axis = self.qparams(t)
            # A constant's dequantized value keeps the IR name, so an importer folding the DequantizeLinear
            # back into a quantized weight finds the original tensor name.
            out = name if t.is_const else self.fresh(f"{name}__dq")
            self.emit("DequantizeLinear", [src, s, z], [out], name=self.fresh_node(f"{name}__dequantize"),
                      axis=axis)
            self.float_of[name] = out
        return self.float_of[name]

    def fresh_node(self, base: str) -> str:
        cand, k = base, 0
        while cand in self.node_names:
            k += 1
            cand = f"{base}_{k}"
        return cand

    def out(self, name: str) -> str:
        """The ONNX value an op writes for IR tensor ``name``; quantized outputs are quantized by ``finish``.

        The float result keeps the IR name (importers name the folded Quantize/Dequantize pair after it), except
        for graph outputs, whose integer value must carry the IR name.
        """
        t = self.tensor(name)
        if t.quant is None:
            return name
        self._check_qdq_type(t, quantize=True)
        return self.fresh(f"{name}__f") if name in self.graph_outputs else name

    def finish(self, name: str, written: str) -> None:
        t = self.tensor(name)
        if t.quant is None:
            return
        s, z, axis = self.qparams(t)
        target = name if name in self.graph_outputs else self.fresh(f"{name}__q")
        self.emit("QuantizeLinear", [written, s, z], [target], name=self.fresh_node(f"{name}__quantize"),
                  axis=axis)
        self.int_of[name] = target

    # -- ops ------------------------------------------------------------------------------------------------
    def node(self, n: Node) -> None:
        self.current = n.name
        if n.op is OpKind.QUANTIZE:
            self._quantize(n)
            return
        if n.op is OpKind.DEQUANTIZE:
            self._dequantize(n)
            return
        handler = _HANDLERS.get(n.op)
        if handler is None:
            raise UnsupportedOpError(f"{n.op.value} has no ONNX export", node=n.name)
        if n.op in _NHWC_SENSITIVE and getattr(n.attrs, "layout", A.Layout.NCHW) is A.Layout.NHWC:
            self._nhwc_node(n, handler)
            return
        ins = [self.use(i) for i in n.inputs]
        outs = [self.out(o) for o in n.outputs]
        handler(self, n, ins, outs)
        for o, w in zip(n.outputs, outs, strict=True):
            self.finish(o, w)

    def _nhwc_node(self, n: Node, handler: _Handler) -> None:
        """ONNX spatial ops are NCHW: transpose the activation in and out, and re-lay-out constant weights."""
        ins = []
        for pos, name in enumerate(n.inputs):
            perm = _WEIGHT_PERM.get(n.op) if pos == 1 else None
            if not name or perm is None:
                ins.append(self.use(name))
            else:
                ins.append(self.use_permuted(name, perm))
        x_nchw = self.tmp(f"{n.inputs[0]}__nchw")
        self.emit("Transpose", [ins[0]], [x_nchw], perm=[0, 3, 1, 2])
        ins[0] = x_nchw
        final = [self.out(o) for o in n.outputs]
        outs = [self.tmp(f"{o}__nchw") for o in final]
        handler(self, n, ins, outs)
        for o, tmp, f in zip(n.outputs, outs, final, strict=True):
            self.emit("Transpose", [tmp], [f], perm=[0, 2, 3, 1])
            self.finish(o, f)

    def use_permuted(self, name: str, perm: tuple[int, ...]) -> str:
        """``use`` of a tensor with its axes permuted: a re-laid-out initializer for constants."""
        t = self.tensor(name)
        if not t.is_const:
            out = self.tmp(f"{name}__perm")
            self.emit("Transpose", [self.use(name)], [out], perm=list(perm))
            return out
        key = (name, perm)
        if key not in self.permuted:
            assert t.data is not None
            q = t.quant
            if q is not None and q.axis is not None:
                q = QuantParams(q.scales, q.zero_points, list(perm).index(q.axis % len(t.shape)))
            new = self.fresh(f"{name}__oihw")
            data = np.ascontiguousarray(np.asarray(t.data).transpose(perm))
            self.extra[new] = Tensor(new, tuple(int(d) for d in data.shape), t.dtype, q, data)
            self.permuted[key] = new
        return self.use(self.permuted[key])

    def _quantize(self, n: Node) -> None:
        t = self.tensor(n.outputs[0])
        if t.quant is None:
            raise ModelError("QUANTIZE output has no quantization parameters", node=n.name)
        self._check_qdq_type(t, quantize=True)
        s, z, axis = self.qparams(t)
        self.emit("QuantizeLinear", [self.use(n.inputs[0]), s, z], [n.outputs[0]], name=n.name, axis=axis)
        self.int_of[n.outputs[0]] = n.outputs[0]

    def _dequantize(self, n: Node) -> None:
        src = self.tensor(n.inputs[0])
        if src.quant is None:
            raise ModelError("DEQUANTIZE input has no quantization parameters", node=n.name)
        self._check_qdq_type(src, quantize=False)
        s, z, axis = self.qparams(src)
        out = self.out(n.outputs[0])
        self.emit("DequantizeLinear", [self.int_value(n.inputs[0]), s, z], [out], name=n.name, axis=axis)
        self.finish(n.outputs[0], out)

    def activation(self, act: A.Activation, x: str, out: str) -> None:
        """Apply a fused activation from ``x`` into ``out`` (Identity when there is none)."""
        if act is A.Activation.NONE:
            self.emit("Identity", [x], [out])
        elif act is A.Activation.RELU:
            self.emit("Relu", [x], [out])
        elif act in (A.Activation.RELU6, A.Activation.RELU_N1_TO_1):
            lo, hi = (0.0, 6.0) if act is A.Activation.RELU6 else (-1.0, 1.0)
            self.emit("Clip", [x, self.init("clip_min", np.array(lo, np.float32)),
                               self.init("clip_max", np.array(hi, np.float32))], [out])
        elif act is A.Activation.TANH:
            self.emit("Tanh", [x], [out])
        elif act is A.Activation.SIGMOID:
            self.emit("Sigmoid", [x], [out])
        elif act is A.Activation.HARD_SWISH:
            self.emit("HardSwish", [x], [out])
        elif act is A.Activation.LEAKY_RELU:
            self.emit("LeakyRelu", [x], [out])
        else:
            raise UnsupportedOpError(f"fused activation {act.value} has no ONNX export", node=self.current)

    def main(self, n: Node, op_type: str, ins: list[str], out: str, **attrs: Any) -> None:
        """Emit the node's main ONNX op, then its fused activation if any."""
        act = getattr(n.attrs, "activation", A.Activation.NONE)
        if act is A.Activation.NONE:
            self.emit(op_type, ins, [out], name=n.name, **attrs)
            return
        mid = self.tmp(out)
        self.emit(op_type, ins, [mid], name=n.name, **attrs)
        self.activation(act, mid, out)

    def shape_of(self, name: str) -> tuple[int, ...]:
        return self.tensor(name).shape


# -- per-op handlers -------------------------------------------------------------------------------------------
_Handler = Callable[[_Exporter, Node, list[str], list[str]], None]


def _conv(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ConvAttrs = n.attrs
    p = a.padding
    groups = a.groups
    if n.op is OpKind.DEPTHWISE_CONV2D:
        groups = e.shape_of(n.inputs[0])[a.layout.channel_axis()]
    attrs: dict[str, Any] = dict(kernel_shape=list(a.kernel_hw), strides=list(a.stride_hw),
                                 dilations=list(a.dilation_hw), pads=[p.top, p.left, p.bottom, p.right],
                                 group=groups)
    if n.op is OpKind.CONV_TRANSPOSE2D:
        e.main(n, "ConvTranspose", ins, outs[0], output_padding=list(a.output_padding_hw), **attrs)
    else:
        e.main(n, "Conv", ins, outs[0], **attrs)


def _fc(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    x_shape = e.shape_of(n.inputs[0])
    w_shape = e.shape_of(n.inputs[1])
    if len(w_shape) != 2:
        raise ModelError(f"fully connected weight has shape {w_shape}, expected (out, in)", node=n.name)
    if len(x_shape) == 2:
        e.main(n, "Gemm", ins, outs[0], transB=1)
        return
    # Gemm is 2-D only: flatten rows, multiply, restore the output shape.
    flat = e.tmp(outs[0])
    e.emit("Reshape", [ins[0], e.ints("fc_rows", (-1, w_shape[1]))], [flat])
    mid = e.tmp(outs[0])
    e.main(n, "Gemm", [flat, *ins[1:]], mid, transB=1)
    e.emit("Reshape", [mid, e.ints("fc_shape", e.shape_of(n.outputs[0]))], [outs[0]])


def _swap_last(e: _Exporter, x: str, rank: int) -> str:
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    out = e.tmp(x)
    e.emit("Transpose", [x], [out], perm=perm)
    return out


def _matmul(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.MatMulAttrs = n.attrs
    x, y = ins
    if a.transpose_a:
        x = _swap_last(e, x, len(e.shape_of(n.inputs[0])))
    if a.transpose_b:
        y = _swap_last(e, y, len(e.shape_of(n.inputs[1])))
    e.main(n, "MatMul", [x, y], outs[0])


def _add(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.main(n, "Add" if len(ins) == 2 else "Sum", ins, outs[0])


def _binary(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.main(n, _BINARY[n.op], ins, outs[0])


def _compare(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit(_COMPARE[n.op.value], ins, outs, name=n.name)


def _variadic(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("Max" if n.op is OpKind.MAXIMUM else "Min", ins, outs, name=n.name)


def _squared_difference(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    d = e.tmp(outs[0])
    e.emit("Sub", ins, [d], name=n.name)
    e.emit("Mul", [d, d], outs)


def _where(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("Where", ins, outs, name=n.name)


def _unary(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit(_UNARY[n.op], ins[:1], outs, name=n.name)


def _clip(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ClipAttrs = n.attrs
    lo = "" if a.min_value is None else e.init("clip_min", np.array(a.min_value, np.float32))
    hi = "" if a.max_value is None else e.init("clip_max", np.array(a.max_value, np.float32))
    e.emit("Clip", [ins[0], lo, hi], outs, name=n.name)


def _leaky(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("LeakyRelu", ins[:1], outs, name=n.name, alpha=float(n.attrs.alpha))


def _prelu(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("PRelu", ins, outs, name=n.name)


def _hard_sigmoid(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.HardSigmoidAttrs = n.attrs
    e.emit("HardSigmoid", ins[:1], outs, name=n.name, alpha=float(a.alpha), beta=float(a.beta))


def _gelu(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.GeluAttrs = n.attrs
    if e.opset >= 20:
        e.emit("Gelu", ins[:1], outs, name=n.name, approximate=a.approximate)
        return
    # Before opset 20 ONNX has no Gelu: spell out 0.5 * x * (1 + erf(x / sqrt(2))) (or its tanh form).
    x = ins[0]
    inner = e.tmp(outs[0])
    if a.approximate == "tanh":
        cube = e.tmp(outs[0])
        e.emit("Pow", [x, e.init("gelu_three", np.array(3.0, np.float32))], [cube], name=n.name)
        scaled = e.tmp(outs[0])
        e.emit("Mul", [cube, e.init("gelu_c", np.array(0.044715, np.float32))], [scaled])
        summed = e.tmp(outs[0])
        e.emit("Add", [x, scaled], [summed])
        arg = e.tmp(outs[0])
        e.emit("Mul", [summed, e.init("gelu_k", np.array(math.sqrt(2.0 / math.pi), np.float32))], [arg])
        e.emit("Tanh", [arg], [inner])
    else:
        arg = e.tmp(outs[0])
        e.emit("Div", [x, e.init("gelu_sqrt2", np.array(math.sqrt(2.0), np.float32))], [arg], name=n.name)
        e.emit("Erf", [arg], [inner])
    one = e.tmp(outs[0])
    e.emit("Add", [inner, e.init("gelu_one", np.array(1.0, np.float32))], [one])
    half = e.tmp(outs[0])
    e.emit("Mul", [x, e.init("gelu_half", np.array(0.5, np.float32))], [half])
    e.emit("Mul", [half, one], outs)


def _rsqrt(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    s = e.tmp(outs[0])
    e.emit("Sqrt", ins[:1], [s], name=n.name)
    e.emit("Reciprocal", [s], outs)


def _cast(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    try:
        to = DType.from_label(n.attrs.to)
    except ValueError:
        raise UnsupportedOpError(f"cast to '{n.attrs.to}' has no ONNX export", node=n.name) from None
    e.emit("Cast", ins[:1], outs, name=n.name, to=_onnx_type(to, f"cast in node '{n.name}'"))


_HANDLERS: dict[OpKind, _Handler] = {
    OpKind.CONV2D: _conv, OpKind.DEPTHWISE_CONV2D: _conv, OpKind.CONV_TRANSPOSE2D: _conv,
    OpKind.FULLY_CONNECTED: _fc, OpKind.MATMUL: _matmul, OpKind.ADD: _add,
    OpKind.SUB: _binary, OpKind.MUL: _binary, OpKind.DIV: _binary, OpKind.POW: _binary,
    OpKind.MAXIMUM: _variadic, OpKind.MINIMUM: _variadic, OpKind.SQUARED_DIFFERENCE: _squared_difference,
    OpKind.WHERE: _where, OpKind.CLIP: _clip, OpKind.LEAKY_RELU: _leaky, OpKind.PRELU: _prelu,
    OpKind.HARD_SIGMOID: _hard_sigmoid, OpKind.GELU: _gelu, OpKind.RSQRT: _rsqrt, OpKind.CAST: _cast,
    **SHAPE_EXPORT,
    **EXT_EXPORT,
}
for _k in _UNARY:
    _HANDLERS[_k] = _unary
for _k in OpKind:
    if _k.value in _COMPARE:
        _HANDLERS[_k] = _compare
# QUANTIZE and DEQUANTIZE are handled by _Exporter.node itself.
SPECIAL_OPS = frozenset({OpKind.QUANTIZE, OpKind.DEQUANTIZE})


def exportable_ops() -> frozenset[OpKind]:
    """Op kinds the exporter can write."""
    return frozenset(_HANDLERS) | SPECIAL_OPS


def _value_info(t: Tensor) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(t.name, _onnx_type(t.dtype, f"tensor '{t.name}'"), list(t.shape))


def to_onnx_model(graph: Graph, opset: int = 17) -> onnx.ModelProto:
    """The ONNX model for ``graph`` (checked with onnx.checker); raises EdgesimError if it cannot be expressed."""
    max_opset = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= max_opset:
        raise EdgesimError(f"must be an integer in {MIN_OPSET}..{max_opset}, got {opset!r}", field="opset")
    e = _Exporter(graph, opset)
    for n in graph.nodes:
        e.node(n)
    for name in graph.outputs:
        t = graph.tensor(name)
        if t.is_const:
            e.use(name)
    inputs = [_value_info(graph.tensor(i)) for i in graph.inputs]
    outputs = [_value_info(graph.tensor(o)) for o in graph.outputs]
    io = set(graph.inputs) | set(graph.outputs)
    produced = {o for node in e.nodes for o in node.output}
    value_info = []
    for t in graph.tensors.values():
        if t.is_const or t.name in io or t.name not in produced or t.dtype not in _ONNX_TYPE:
            continue
        if t.quant is not None and e.int_of.get(t.name) != t.name:
            t = t.with_dtype(DType.FP32)  # the IR name labels the float side of the QDQ pair
        value_info.append(_value_info(t))
    onnx_graph = helper.make_graph(e.nodes, graph.name or "edgesim", inputs, outputs,
                                   initializer=list(e.inits.values()), value_info=value_info)
    opset_ids = [helper.make_opsetid("", opset)]
    model = helper.make_model(onnx_graph, opset_imports=opset_ids, producer_name="edgesim")
    try:
        model.ir_version = helper.find_min_ir_version_for(opset_ids)
    except (AttributeError, ValueError):
        pass  # keep the onnx package's default IR version
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid model"
        raise ModelError(f"exported ONNX model of '{graph.name}' does not validate: {first}") from None
    return model


def export_onnx(graph: Graph, path: str | Path, opset: int = 17) -> None:
    """Write ``graph`` to ``path`` as ONNX. The file appears whole or not at all (temporary file + rename)."""
    target = Path(path)
    model = to_onnx_model(graph, opset)
    data = model.SerializeToString()
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise EdgesimError("output directory does not exist", file=str(directory))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException as err:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            raise EdgesimError(f"cannot write ONNX model: {err.strerror or err}", file=str(target)) from None
        raise
