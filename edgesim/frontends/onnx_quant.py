"""ONNX quantization ops: QuantizeLinear / DequantizeLinear (QDQ), QLinear* / *Integer, DynamicQuantizeLinear.

Quantization follows the TFLite picture: DequantizeLinear of a constant integer weight becomes that weight with
QuantParams (data stays integer); an activation QuantizeLinear -> DequantizeLinear pair becomes a quantized
activation tensor (the producer's output is re-typed int8/uint8). Parameters known only at run time, and blocked
parameters, become the plain arithmetic of their definition (``onnx_dynq``).
"""

from __future__ import annotations

import numpy as np
import onnx

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import (
    ONNX_DTYPES,
    Ctx,
    OnnxNode,
    dtype_of_array,
    elem_type_name,
    quant_params,
)
from edgesim.frontends.onnx_dynq import (
    blocked_dequantize,
    blocked_quantize,
    dynamic_quantize_exact,
    quantize_runtime,
)
from edgesim.frontends.onnx_ops import FLOAT_HANDLERS, Handler
from edgesim.ir import attrs as A
from edgesim.ir import lowbit
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams

_MS = "com.microsoft"


def _qparams(ctx: Ctx, n: OnnxNode, scale: str, zp: str, rank: int, axis: int | None) -> QuantParams:
    s = ctx.need_const(scale, n, "scale")
    z = ctx.need_const(zp, n, "zero point") if zp else None
    if n.i("block_size", 0):
        raise UnsupportedOpError(f"{n.op_type} with block_size (blocked quantization)", file=ctx.path, node=n.name)
    try:
        return quant_params(s, z, axis, rank)
    except ValueError as e:
        raise ModelError(f"bad quantization parameters: {e}", file=ctx.path, node=n.name) from None


def _qdtype(ctx: Ctx, zp: str, n: OnnxNode) -> DType:
    z = ctx.need_const(zp, n, "zero point") if zp else None
    code = int(n.attrs.get("output_dtype") or 0)
    stated = ONNX_DTYPES.get(code) if code else None
    if code and (stated is None or code == onnx.TensorProto.UINT16):  # uint16 would be held as int32
        raise UnsupportedOpError(f"{n.op_type} with output_dtype {elem_type_name(code)}", file=ctx.path,
                                 node=n.name)
    # numpy has no int4/float8: onnx hands those zero points over as ml_dtypes arrays, which dtype_of_array knows;
    # without a zero point the type is output_dtype's, else uint8 (ONNX's default)
    dt = dtype_of_array(z) if z is not None else stated or DType.UINT8
    if stated is not None and dt is not stated:
        raise ModelError(f"output_dtype {stated.label} differs from the zero point's type {dt.label}", file=ctx.path,
                         node=n.name)
    if dt.is_low_bit_float and dt is not DType.FP8_E8M0:
        if z is not None and np.any(np.asarray(z, np.float32) != 0):  # float8/float4 have no zero point
            raise ModelError(f"zero point '{zp}' of type {dt.label} is not 0", file=ctx.path, node=n.name)
        if not n.i("saturate", 1):
            raise UnsupportedOpError(f"{n.op_type} to {dt.label} with saturate=0", file=ctx.path, node=n.name)
        return dt
    if not dt.is_integer:
        raise ModelError(f"zero point '{zp}' is not an integer tensor", file=ctx.path, node=n.name)
    return dt


def quantize_linear(ctx: Ctx, n: OnnxNode) -> None:
    x, y = n.inputs[0], n.outputs[0]
    xt = ctx.t(x, n)
    zp = n.input(2)
    if n.i("block_size", 0):
        blocked_quantize(ctx, n, _qdtype(ctx, zp, n))
        return
    computed = [v for v in (n.input(1), zp) if v and ctx.const(v) is None]
    if computed and not any(ctx.name(v) in ctx.graph_inputs for v in computed):
        # computed by the graph (a graph input instead can be bound: need_const below names it)
        quantize_runtime(ctx, n, ctx.t(zp, n).dtype if zp else DType.UINT8)
        return
    dt = _qdtype(ctx, n.input(2), n)
    q = _qparams(ctx, n, n.input(1), n.input(2), len(xt.shape), n.i("axis", 1))
    if xt.data is not None and dt.is_low_bit_float:  # float weight coded as float8/float4: fold
        per_axis = np.asarray(q.scales).reshape([-1 if i == q.axis else 1 for i in range(xt.data.ndim)])
        ctx.add_const(y, lowbit.codes(dt, xt.data, per_axis), q, dt)
        return
    if xt.data is not None:  # float weight quantized in the graph: fold to integer data
        info = np.iinfo(dt.numpy())  # int4/int2 sit in int8 storage but saturate at their own width
        lo, hi = (0, (1 << dt.bits) - 1) if info.min == 0 else (-(1 << (dt.bits - 1)), (1 << (dt.bits - 1)) - 1)
        scales = np.asarray(q.scales).reshape([-1 if i == q.axis else 1 for i in range(xt.data.ndim)]) \
            if q.per_channel else q.scale
        zps = np.asarray(q.zero_points).reshape(np.shape(scales)) if q.per_channel else q.zero_point
        vals = np.clip(np.rint(xt.data / scales) + zps, lo, hi).astype(dt.numpy())
        ctx.add_const(y, vals, q, dt)
        return
    only_q = all(c.op_type == "QuantizeLinear" for c in ctx.onnx_consumers.get(x, []))
    if ctx.name(x) in ctx.produced and x not in ctx.graph_outputs and only_q and xt.quant is None:
        ctx.retag(x, dt, q)
        ctx.set_alias(y, x)
    else:
        ctx.emit(OpKind.QUANTIZE, [x], [y], A.QuantizeAttrs(q.axis), n.name, dtypes=[dt], quants=[q])


def dequantize_linear(ctx: Ctx, n: OnnxNode) -> None:
    x, y = n.inputs[0], n.outputs[0]
    if n.i("block_size", 0):
        blocked_dequantize(ctx, n)
        return
    xt = ctx.t(x, n)
    q = _qparams(ctx, n, n.input(1), n.input(2), len(xt.shape), n.i("axis", 1))
    if xt.data is not None:
        if xt.quant is not None and xt.quant == q:
            ctx.set_alias(y, x)
        else:
            ctx.add_const(y, xt.data, q, xt.dtype)
        return
    if y in ctx.graph_outputs:
        if xt.quant is None:
            ctx.retag(x, xt.dtype, q)
        ctx.emit(OpKind.DEQUANTIZE, [x], [y], A.QuantizeAttrs(q.axis), n.name, dtypes=[DType.FP32])
        return
    if xt.quant is None:
        ctx.retag(x, xt.dtype, q)
    ctx.set_alias(y, x)


def _tag(ctx: Ctx, n: OnnxNode, x: str, scale: str, zp: str, axis: int | None = None) -> str:
    """Attach the quantization a QLinear/Integer op declares for one of its inputs."""
    t = ctx.t(x, n)
    if not scale:  # *Integer ops give zero points only; the scale lives outside the op
        z = ctx.need_const(zp, n, "zero point") if zp else None
        q = quant_params(np.ones(1 if z is None or z.size == 1 else z.size), z, axis, len(t.shape))
    else:
        q = _qparams(ctx, n, scale, zp, len(t.shape), axis)
    if t.quant == q:
        return ctx.name(x)
    if t.is_const:
        name = ctx.fresh(f"{t.name}_q") if t.quant is not None else t.name
        assert t.data is not None
        return ctx.add_const(name, t.data, q, t.dtype)
    return ctx.retag(x, t.dtype, q)


def _out_quant(ctx: Ctx, n: OnnxNode, scale: str, zp: str) -> tuple[list[DType | None], list[QuantParams | None]]:
    return [_qdtype(ctx, zp, n)], [_qparams(ctx, n, scale, zp, 0, None)]


def qlinear_conv(ctx: Ctx, n: OnnxNode) -> None:
    x = _tag(ctx, n, n.inputs[0], n.input(1), n.input(2))
    w = _tag(ctx, n, n.input(3), n.input(4), n.input(5), axis=0)
    dts, qs = _out_quant(ctx, n, n.input(6), n.input(7))
    ctx.onnx_dtypes[n.outputs[0]] = dts[0]  # type: ignore[assignment]
    bias = n.input(8)
    bt = ctx.t(bias, n) if bias else None
    if bt is not None and bt.is_const and bt.quant is None:
        # the spec fixes the bias scale to x_scale * w_scale (per output channel), zero point 0
        xq, wq = ctx.tensors[x].quant, ctx.tensors[w].quant
        if xq is not None and wq is not None:
            scales = tuple(xq.scale * s for s in wq.scales)
            bias = ctx.retag(bias, bt.dtype, QuantParams(scales, (0,) * len(scales), 0 if len(scales) > 1 else None))
    proxy = OnnxNode(n.name, "Conv", "", (x, w) + ((bias,) if bias else ()), n.outputs, n.attrs)
    FLOAT_HANDLERS["Conv"](ctx, proxy)
    ctx.retag(n.outputs[0], dts[0] or DType.UINT8, qs[0])


def conv_integer(ctx: Ctx, n: OnnxNode) -> None:
    x = _tag(ctx, n, n.inputs[0], "", n.input(2))
    w = _tag(ctx, n, n.input(1), "", n.input(3), axis=0)
    ctx.onnx_dtypes[n.outputs[0]] = DType.INT32
    FLOAT_HANDLERS["Conv"](ctx, OnnxNode(n.name, "Conv", "", (x, w), n.outputs, n.attrs))


def qlinear_matmul(ctx: Ctx, n: OnnxNode) -> None:
    a = _tag(ctx, n, n.inputs[0], n.input(1), n.input(2))
    b = _tag(ctx, n, n.input(3), n.input(4), n.input(5), axis=1)
    dts, qs = _out_quant(ctx, n, n.input(6), n.input(7))
    ctx.onnx_dtypes[n.outputs[0]] = dts[0]  # type: ignore[assignment]
    FLOAT_HANDLERS["MatMul"](ctx, OnnxNode(n.name, "MatMul", "", (a, b), n.outputs, {}))
    ctx.retag(n.outputs[0], dts[0] or DType.UINT8, qs[0])


def matmul_integer(ctx: Ctx, n: OnnxNode) -> None:
    a = _tag(ctx, n, n.inputs[0], "", n.input(2))
    b = _tag(ctx, n, n.input(1), "", n.input(3), axis=1)
    ctx.onnx_dtypes[n.outputs[0]] = DType.INT32
    FLOAT_HANDLERS["MatMul"](ctx, OnnxNode(n.name, "MatMul", "", (a, b), n.outputs, {}))


def _qlinear_binary(op: OpKind) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        a = _tag(ctx, n, n.inputs[0], n.input(1), n.input(2))
        b = _tag(ctx, n, n.input(3), n.input(4), n.input(5))
        dts, qs = _out_quant(ctx, n, n.input(6), n.input(7))
        ctx.emit(op, [a, b], [n.outputs[0]], A.ElementwiseAttrs(), n.name, dtypes=dts, quants=qs)
    return h


def _qlinear_unary(float_op: str) -> Handler:
    """com.microsoft QLinear<Op>(X, X_scale, X_zp, Y_scale, Y_zp): the float op over quantized tensors."""
    def h(ctx: Ctx, n: OnnxNode) -> None:
        x = _tag(ctx, n, n.inputs[0], n.input(1), n.input(2))
        dts, qs = _out_quant(ctx, n, n.input(3), n.input(4))
        ctx.onnx_dtypes[n.outputs[0]] = dts[0]  # type: ignore[assignment]
        attrs = {k: v for k, v in n.attrs.items() if k != "channels_last"}
        if n.i("channels_last", 0):
            raise UnsupportedOpError(f"{n.op_type} with channels_last", file=ctx.path, node=n.name)
        FLOAT_HANDLERS[float_op](ctx, OnnxNode(n.name, float_op, "", (x,), n.outputs[:1], attrs))
        ctx.retag(n.outputs[0], dts[0] or DType.UINT8, qs[0])
    return h


def qlinear_concat(ctx: Ctx, n: OnnxNode) -> None:
    """QLinearConcat(Y_scale, Y_zp, X0, X0_scale, X0_zp, X1, ...)."""
    ins = [_tag(ctx, n, n.inputs[k], n.input(k + 1), n.input(k + 2)) for k in range(2, len(n.inputs) - 2, 3)]
    dts, qs = _out_quant(ctx, n, n.input(0), n.input(1))
    ctx.onnx_dtypes[n.outputs[0]] = dts[0]  # type: ignore[assignment]
    FLOAT_HANDLERS["Concat"](ctx, OnnxNode(n.name, "Concat", "", tuple(ins), n.outputs, n.attrs))
    ctx.retag(n.outputs[0], dts[0] or DType.UINT8, qs[0])


def qgemm(ctx: Ctx, n: OnnxNode) -> None:
    """com.microsoft QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp); float output without y_scale."""
    a = _tag(ctx, n, n.inputs[0], n.input(1), n.input(2))
    b_axis = 0 if n.i("transB", 0) else 1
    b = _tag(ctx, n, n.input(3), n.input(4), n.input(5), axis=b_axis)
    has_y = bool(n.input(7))
    if has_y:
        dts, qs = _out_quant(ctx, n, n.input(7), n.input(8))
        ctx.onnx_dtypes[n.outputs[0]] = dts[0]  # type: ignore[assignment]
    FLOAT_HANDLERS["Gemm"](ctx, OnnxNode(n.name, "Gemm", "", (a, b, n.input(6)), n.outputs, n.attrs))
    if has_y:
        ctx.retag(n.outputs[0], dts[0] or DType.UINT8, qs[0])


def dynamic_quantize_linear(ctx: Ctx, n: OnnxNode) -> None:
    """Run-time quantization to uint8: one QUANTIZE node. Its scale and zero point are only known at run time;
    they become placeholder constants (1.0, 0) so the scalar scale arithmetic after it folds away (negligible
    work) while the tensor ops (ConvInteger, MatMulInteger, Cast, Mul) stay."""
    if any(o in ctx.graph_outputs for o in n.outputs):  # the computed values leave the graph: compute them
        dynamic_quantize_exact(ctx, n)
        return
    q = QuantParams((1.0,), (0,), None)
    ctx.emit(OpKind.QUANTIZE, [n.inputs[0]], [n.outputs[0]], A.QuantizeAttrs(None, dynamic=True), n.name,
             dtypes=[DType.UINT8], quants=[q])
    if len(n.outputs) > 1 and n.outputs[1]:
        ctx.add_const(n.outputs[1], np.array(1.0, np.float32))
    if len(n.outputs) > 2 and n.outputs[2]:
        ctx.add_const(n.outputs[2], np.array(0, np.uint8))


QUANT_HANDLERS: dict[tuple[str, str], Handler] = {
    ("", "DynamicQuantizeLinear"): dynamic_quantize_linear,
    (_MS, "Gelu"): FLOAT_HANDLERS["Gelu"],
    (_MS, "QGemm"): qgemm,
    (_MS, "QLinearConcat"): qlinear_concat,
    (_MS, "QLinearGlobalAveragePool"): _qlinear_unary("GlobalAveragePool"),
    (_MS, "QLinearAveragePool"): _qlinear_unary("AveragePool"),
    (_MS, "QLinearSigmoid"): _qlinear_unary("Sigmoid"),
    (_MS, "QLinearLeakyRelu"): _qlinear_unary("LeakyRelu"),
    (_MS, "QLinearSoftmax"): _qlinear_unary("Softmax"),
    ("", "QuantizeLinear"): quantize_linear,
    ("", "DequantizeLinear"): dequantize_linear,
    ("", "QLinearConv"): qlinear_conv,
    ("", "ConvInteger"): conv_integer,
    ("", "QLinearMatMul"): qlinear_matmul,
    ("", "MatMulInteger"): matmul_integer,
    (_MS, "QLinearAdd"): _qlinear_binary(OpKind.ADD),
    (_MS, "QLinearMul"): _qlinear_binary(OpKind.MUL),
    (_MS, "QuantizeLinear"): quantize_linear,
    (_MS, "DequantizeLinear"): dequantize_linear,
}
