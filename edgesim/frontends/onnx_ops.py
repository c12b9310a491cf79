"""Per-op mapping of ONNX nodes (float ops) to edgesim IR nodes, one small function per ONNX op type.

Every handler takes the import context and the decoded node, and either emits IR nodes or records an alias (ops
that vanish, such as Dropout). Opset-dependent attribute/input conventions are resolved here.
"""

from __future__ import annotations

import math

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode, transpose_quant
from edgesim.frontends.onnx_shape import SHAPE_HANDLERS, Handler, _axes_arg, _axis, _out, _x
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind

NCHW = A.Layout.NCHW


def _pass_through(ctx: Ctx, n: OnnxNode) -> None:
    """Dropout/Identity: keep the name when it is a graph output, otherwise just alias it away."""
    if _out(n) in ctx.graph_outputs:
        ctx.emit(OpKind.IDENTITY, [_x(n)], [_out(n)], A.NoAttrs(), n.name)
    else:
        ctx.set_alias(_out(n), _x(n))


# ----- convolution and pooling ------------------------------------------------------------------------------
def _spatial_pads(ctx: Ctx, n: OnnxNode, in_hw: tuple[int, ...], kernel: tuple[int, ...],
                  strides: tuple[int, ...], dilations: tuple[int, ...]) -> A.Padding:
    before, after = pad_lists(ctx, n, in_hw, kernel, strides, dilations)
    if len(in_hw) == 1:
        return A.Padding(0, before[0], 0, after[0])
    return A.Padding(before[0], before[1], after[0], after[1])


def pad_lists(ctx: Ctx, n: OnnxNode, in_hw: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
              dilations: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Padding before and after each spatial axis (explicit pads or auto_pad)."""
    auto = n.s("auto_pad", "NOTSET")
    nd = len(in_hw)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        before, after = [], []
        for i in range(nd):
            out = -(-in_hw[i] // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_hw[i], 0)
            small, big = total // 2, total - total // 2
            before.append(small if auto == "SAME_UPPER" else big)
            after.append(big if auto == "SAME_UPPER" else small)
    elif auto == "VALID":
        before, after = [0] * nd, [0] * nd
    else:
        pads = n.ints("pads", [0] * (2 * nd)) or [0] * (2 * nd)
        if len(pads) != 2 * nd:
            raise ModelError(f"pads {pads} do not fit {nd} spatial dimensions", file=ctx.path, node=n.name)
        before, after = pads[:nd], pads[nd:]
    return list(before), list(after)


def _hw(vals: list[int] | None, nd: int, default: int) -> tuple[int, int]:
    v = list(vals) if vals else [default] * nd
    return (1, v[0]) if nd == 1 else (v[0], v[1])


def _to_2d(ctx: Ctx, n: OnnxNode, x: str) -> str:
    """Rank-3 (N, C, L) activations become (N, C, 1, L) so 1-D conv/pool run as 2-D ops."""
    s = ctx.shape(x)
    out = ctx.fresh(f"{x}_2d")
    ctx.emit(OpKind.RESHAPE, [x], [out], A.ReshapeAttrs((s[0], s[1], 1, s[2])), f"{n.name}_to2d")
    return out


def _from_2d(ctx: Ctx, n: OnnxNode, tmp: str) -> None:
    s = ctx.shape(tmp)
    ctx.emit(OpKind.RESHAPE, [tmp], [_out(n)], A.ReshapeAttrs((s[0], s[1], s[3])), f"{n.name}_from2d")


def _conv_common(ctx: Ctx, n: OnnxNode, transpose: bool) -> None:
    x, w = _x(n), n.input(1)
    xs = ctx.shape(x)
    if len(xs) not in (3, 4):
        raise UnsupportedOpError(f"{n.op_type} on rank-{len(xs)} input (only 1-D and 2-D)", file=ctx.path,
                                 node=n.name)
    nd = len(xs) - 2
    wt = ctx.t(w, n)
    kernel = tuple(n.ints("kernel_shape") or list(wt.shape[2:]))
    strides = tuple(n.ints("strides") or [1] * nd)
    dil = tuple(n.ints("dilations") or [1] * nd)
    group = n.i("group", 1)
    opad: tuple[int, ...] = (0,) * nd
    if transpose:
        pads, opad = _conv_transpose_pads(ctx, n, xs[2:], kernel, strides, dil)
    else:
        pads = _spatial_pads(ctx, n, xs[2:], kernel, strides, dil)
    if nd == 1:
        shape_2d = wt.shape[:2] + (1,) + wt.shape[2:]
        if wt.data is None:  # weights computed at run time: the same view, as a node
            w2 = ctx.fresh(f"{w}_2d")
            ctx.emit(OpKind.RESHAPE, [w], [w2], A.ReshapeAttrs(shape_2d), f"{n.name}_w2d")
            w = w2
        else:
            w = ctx.add_const(ctx.fresh(f"{w}_2d"), wt.data.reshape(shape_2d), wt.quant, wt.dtype)
        x = _to_2d(ctx, n, x)
    cin = ctx.shape(x)[1]
    cout = ctx.t(w).shape[0]
    if transpose:
        op = OpKind.CONV_TRANSPOSE2D
    elif group > 1 and group == cin and cout % cin == 0:
        op = OpKind.DEPTHWISE_CONV2D
    else:
        op = OpKind.CONV2D
    out_pad = (0, opad[0]) if nd == 1 else (opad[0], opad[1])  # a 1-D conv runs as H=1: no padding there
    attrs = A.ConvAttrs(kernel_hw=_hw(list(kernel), nd, 1), stride_hw=_hw(list(strides), nd, 1),
                        dilation_hw=_hw(list(dil), nd, 1), padding=pads, groups=group, layout=NCHW,
                        output_padding_hw=out_pad)
    inputs = [x, w] + ([n.input(2)] if n.input(2) else [])
    out = ctx.fresh(_out(n)) if nd == 1 else _out(n)
    ctx.emit(op, inputs, [out], attrs, n.name, dtypes=[ctx.onnx_dtypes.get(_out(n))])
    if nd == 1:
        _from_2d(ctx, n, out)


def _conv_transpose_pads(ctx: Ctx, n: OnnxNode, in_hw: tuple[int, ...], kernel: tuple[int, ...],
                         strides: tuple[int, ...], dil: tuple[int, ...]) -> tuple[A.Padding, tuple[int, ...]]:
    """Padding and output padding. An ``output_shape`` larger than the natural output grows the far end (onnx's
    reference); SAME_UPPER puts the smaller half first, as onnx's reference implementation does."""
    nd = len(in_hw)
    out_shape = n.ints("output_shape")
    auto = n.s("auto_pad", "NOTSET")
    opad = list(n.ints("output_padding") or [0] * nd)
    if out_shape or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = out_shape[-nd:] if out_shape else [in_hw[i] * strides[i] for i in range(nd)]
        before, after = [], []
        for i in range(nd):
            total = strides[i] * (in_hw[i] - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1 - target[i]
            if total < 0:
                opad[i] -= total
                total = 0
            small, big = total // 2, total - total // 2
            before.append(big if auto == "SAME_LOWER" else small)
            after.append(small if auto == "SAME_LOWER" else big)
        pads = A.Padding(0, before[0], 0, after[0]) if nd == 1 else A.Padding(before[0], before[1], after[0], after[1])
        return pads, tuple(opad)
    return _spatial_pads(ctx, n, in_hw, kernel, strides, dil), tuple(opad)


def conv(ctx: Ctx, n: OnnxNode) -> None:
    _conv_common(ctx, n, transpose=False)


def conv_transpose(ctx: Ctx, n: OnnxNode) -> None:
    _conv_common(ctx, n, transpose=True)


def _pool(op: OpKind) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        x = _x(n)
        xs = ctx.shape(x)
        if len(xs) not in (3, 4, 5):
            raise UnsupportedOpError(f"{n.op_type} on rank-{len(xs)} input", file=ctx.path, node=n.name)
        nd = len(xs) - 2
        kernel = tuple(n.ints("kernel_shape") or [])
        if len(kernel) != nd:
            raise ModelError(f"kernel_shape {kernel} does not fit the input rank", file=ctx.path, node=n.name)
        strides = tuple(n.ints("strides") or [1] * nd)
        dil = tuple(n.ints("dilations") or [1] * nd)
        indices = len(n.outputs) > 1 and bool(n.outputs[1])
        if indices and (nd != 2 or n.i("storage_order", 0)):
            what = "column-major (storage_order=1)" if nd == 2 else f"of a {nd}-D pool"
            raise UnsupportedOpError(f"{n.op_type} indices {what}", file=ctx.path, node=n.name)
        if nd == 3:
            from edgesim.frontends.onnx_pool3d import pool3d

            pool3d(ctx, n, op, kernel, strides, dil)
            return
        pads = _spatial_pads(ctx, n, xs[2:], kernel, strides, dil)
        attrs = A.PoolAttrs(kernel_hw=_hw(list(kernel), nd, 1), stride_hw=_hw(list(strides), nd, 1),
                            padding=pads, layout=NCHW, count_include_pad=bool(n.i("count_include_pad", 0)),
                            ceil_mode=bool(n.i("ceil_mode", 0)), dilation_hw=_hw(list(dil), nd, 1))
        if nd == 1:
            tmp_in = _to_2d(ctx, n, x)
            tmp = ctx.fresh(_out(n))
            ctx.emit(op, [tmp_in], [tmp], attrs, n.name)
            _from_2d(ctx, n, tmp)
        else:
            outs = [_out(n), n.outputs[1]] if indices else [_out(n)]
            ctx.emit(op, [x], outs, attrs, n.name, dtypes=[None, DType.INT64][:len(outs)])
    return h


def _global_pool(op: OpKind) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        rank = ctx.rank(_x(n))
        ctx.emit(op, [_x(n)], [_out(n)], A.ReduceAttrs(tuple(range(2, rank)), True), n.name)
    return h


# ----- fully connected / matmul -----------------------------------------------------------------------------
def _fc_weight(ctx: Ctx, n: OnnxNode, b: str, transposed_already: bool, alpha: float = 1.0) -> str:
    """A (out, in) weight constant from B (in, out) or B^T (out, in); per-axis quantization follows the axes."""
    bt = ctx.t(b, n)
    assert bt.data is not None
    data, quant = bt.data, bt.quant
    if not transposed_already:
        data, quant = data.T, transpose_quant(quant, (1, 0))
    if alpha != 1.0 and data.dtype.kind == "f":
        data = data * alpha
    return ctx.add_const(ctx.fresh(f"{bt.name}_fc"), np.ascontiguousarray(data), quant, bt.dtype)


def _bias_vector(ctx: Ctx, c: str, n_out: int, beta: float) -> str | None:
    """Gemm's C as an FC bias when it is a constant broadcastable as a row vector, else None."""
    data = ctx.const(c)
    t = ctx.t(c)
    if data is None or data.size != n_out or (data.ndim == 2 and data.shape[0] != 1):
        return None
    vec = data.reshape(n_out)
    if beta != 1.0 and vec.dtype.kind == "f":
        vec = vec * beta
    return ctx.add_const(ctx.fresh(f"{t.name}_bias"), vec, t.quant, t.dtype)


def gemm(ctx: Ctx, n: OnnxNode) -> None:
    a, b, c = _x(n), n.input(1), n.input(2)
    alpha, beta = n.f("alpha", 1.0), n.f("beta", 1.0)
    trans_a, trans_b = bool(n.i("transA", 0)), bool(n.i("transB", 0))
    if trans_a:
        at = ctx.fresh(f"{a}_T")
        ctx.emit(OpKind.TRANSPOSE, [a], [at], A.TransposeAttrs((1, 0)), f"{n.name}_transA")
        a = at
    if ctx.const(b) is not None and ctx.rank(b) == 2:
        w = _fc_weight(ctx, n, b, transposed_already=trans_b, alpha=alpha)
        n_out = ctx.shape(w)[0]
        bias = _bias_vector(ctx, c, n_out, beta) if c else None
        out = _out(n) if (not c or bias is not None) else ctx.fresh(_out(n))
        ins = [a, w] + ([bias] if bias else [])
        ctx.emit(OpKind.FULLY_CONNECTED, ins, [out], A.FullyConnectedAttrs(), n.name)
    else:
        out = _out(n) if not c and alpha == 1.0 else ctx.fresh(_out(n))
        ctx.emit(OpKind.MATMUL, [a, b], [out], A.MatMulAttrs(transpose_b=trans_b), n.name)
        bias = None
        if alpha != 1.0:  # run-time B: alpha scales the product (it cannot be folded into a weight)
            scaled = _out(n) if not c else ctx.fresh(_out(n))
            ctx.emit(OpKind.MUL, [out, _scalar(ctx, n, alpha)], [scaled], A.ElementwiseAttrs(), f"{n.name}_alpha")
            out = scaled
    if c and bias is None:
        if beta != 1.0:
            cb = ctx.fresh(f"{c}_beta")
            ctx.emit(OpKind.MUL, [c, _scalar(ctx, n, beta)], [cb], A.ElementwiseAttrs(), f"{n.name}_beta")
            c = cb
        ctx.emit(OpKind.ADD, [out, c], [_out(n)], A.ElementwiseAttrs(), f"{n.name}_bias")


def _scalar(ctx: Ctx, n: OnnxNode, value: float) -> str:
    return ctx.add_const(ctx.fresh(f"{n.name}_k"), np.array(value, dtype=np.float32))


def matmul(ctx: Ctx, n: OnnxNode) -> None:
    """Constant 2-D B -> FULLY_CONNECTED with W = B^T (out, in); otherwise MATMUL (both operands at run time).

    FULLY_CONNECTED is chosen so that weights are weights (counted as parameters, streamed from flash) exactly as
    in a TFLite graph of the same model; keep_num_dims keeps (batch, seq, features) shapes for rank > 2.
    """
    a, b = _x(n), n.input(1)
    if ctx.const(b) is not None and ctx.rank(b) == 2 and ctx.rank(a) >= 2:
        w = _fc_weight(ctx, n, b, transposed_already=False)
        ctx.emit(OpKind.FULLY_CONNECTED, [a, w], [_out(n)],
                 A.FullyConnectedAttrs(keep_num_dims=ctx.rank(a) > 2), n.name)
    else:
        ctx.emit(OpKind.MATMUL, [a, b], [_out(n)], A.MatMulAttrs(), n.name)


# ----- elementwise and activations ---------------------------------------------------------------------------
def _simple(op: OpKind, attrs: object = None) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        at = attrs if attrs is not None else op.info.attrs_type()
        ctx.emit(op, [i for i in n.inputs if i], [_out(n)], at, n.name)
    return h


def _variadic(op: OpKind) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        ins = [i for i in n.inputs if i]
        if len(ins) == 1:
            _pass_through(ctx, n)
            return
        ctx.emit(op, ins, [_out(n)], op.info.attrs_type(), n.name)
    return h


def _compare(op: OpKind) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        ctx.emit(op, list(n.inputs[:2]), [_out(n)], A.NoAttrs(), n.name, dtypes=[DType.BOOL])
    return h


def clip(ctx: Ctx, n: OnnxNode) -> None:
    if ctx.opset < 11:
        lo: float | None = n.f("min", -math.inf)
        hi: float | None = n.f("max", math.inf)
    else:
        vmin, vmax = n.input(1), n.input(2)
        lo = float(ctx.need_const(vmin, n, "min").reshape(-1)[0]) if vmin else None
        hi = float(ctx.need_const(vmax, n, "max").reshape(-1)[0]) if vmax else None
    lo = None if lo is None or math.isinf(lo) or lo < -3.0e38 else lo
    hi = None if hi is None or math.isinf(hi) or hi > 3.0e38 else hi
    ctx.emit(OpKind.CLIP, [_x(n)], [_out(n)], A.ClipAttrs(lo, hi), n.name)


def leaky_relu(ctx: Ctx, n: OnnxNode) -> None:
    ctx.emit(OpKind.LEAKY_RELU, [_x(n)], [_out(n)], A.LeakyReluAttrs(n.f("alpha", 0.01)), n.name)


def hard_sigmoid(ctx: Ctx, n: OnnxNode) -> None:
    ctx.emit(OpKind.HARD_SIGMOID, [_x(n)], [_out(n)],
             A.HardSigmoidAttrs(n.f("alpha", 0.2), n.f("beta", 0.5)), n.name)


def gelu(ctx: Ctx, n: OnnxNode) -> None:
    ctx.emit(OpKind.GELU, [_x(n)], [_out(n)], A.GeluAttrs(n.s("approximate", "none")), n.name)


def prelu(ctx: Ctx, n: OnnxNode) -> None:
    slope = n.input(1)
    data, xs = ctx.const(slope), ctx.shape(_x(n))
    if data is not None and data.ndim == 1 and len(xs) >= 3 and data.size == xs[1] and data.size not in (1, xs[-1]):
        # legacy exporters give a per-channel (C,) slope meaning channel axis 1 of an NCHW tensor
        t = ctx.t(slope)
        shaped = data.reshape((data.size,) + (1,) * (len(xs) - 2))
        slope = ctx.add_const(ctx.fresh(f"{t.name}_c11"), shaped, t.quant, t.dtype)
    ctx.emit(OpKind.PRELU, [_x(n), slope], [_out(n)], A.NoAttrs(), n.name)


def batch_norm(ctx: Ctx, n: OnnxNode) -> None:
    if ctx.opset >= 14 and n.i("training_mode", 0):
        from edgesim.frontends.onnx_bn_train import batch_norm_training

        batch_norm_training(ctx, n)
        return
    ctx.emit(OpKind.BATCH_NORM, list(n.inputs[:5]), [_out(n)], A.BatchNormAttrs(n.f("epsilon", 1e-5), NCHW),
             n.name)


def lrn(ctx: Ctx, n: OnnxNode) -> None:
    ctx.emit(OpKind.LRN, [_x(n)], [_out(n)],
             A.LRNAttrs(n.i("size", 1), n.f("alpha", 1e-4), n.f("beta", 0.75), n.f("bias", 1.0), NCHW), n.name)


def _softmax(op: OpKind) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        x = _x(n)
        shape = ctx.shape(x)
        rank = len(shape)
        if ctx.opset >= 13:
            axis = _axis(ctx, n, n.i("axis", -1), rank)
            ctx.emit(op, [x], [_out(n)], A.SoftmaxAttrs(axis), n.name)
            return
        # Before opset 13 the input is flattened to 2-D at `axis` and normalised over the whole trailing block.
        axis = _axis(ctx, n, n.i("axis", 1), rank)
        if axis == rank - 1:
            ctx.emit(op, [x], [_out(n)], A.SoftmaxAttrs(axis), n.name)
            return
        flat = (math.prod(shape[:axis]), math.prod(shape[axis:]))
        t1, t2 = ctx.fresh(f"{x}_flat"), ctx.fresh(f"{_out(n)}_flat")
        ctx.emit(OpKind.RESHAPE, [x], [t1], A.ReshapeAttrs(flat), f"{n.name}_flatten")
        ctx.emit(op, [t1], [t2], A.SoftmaxAttrs(1), n.name)
        ctx.emit(OpKind.RESHAPE, [t2], [_out(n)], A.ReshapeAttrs(shape), f"{n.name}_unflatten")
    return h


def _reduce_axes(ctx: Ctx, n: OnnxNode, input_since: int) -> tuple[int, ...] | None:
    """The normalised axes of an ONNX reduction (attribute, or input from ``input_since``); None when it has no
    axes and ``noop_with_empty_axes`` makes it a pass-through (already emitted)."""
    rank = ctx.rank(_x(n))
    axes = _axes_arg(ctx, n, input_since)
    if not axes:
        if n.i("noop_with_empty_axes", 0):
            _pass_through(ctx, n)
            return None
        axes = list(range(rank))
    return tuple(sorted({_axis(ctx, n, a, rank) for a in axes}))


def _reduce(op: OpKind, input_since: int) -> Handler:
    def h(ctx: Ctx, n: OnnxNode) -> None:
        norm = _reduce_axes(ctx, n, input_since)
        if norm is not None:
            ctx.emit(op, [_x(n)], [_out(n)], A.ReduceAttrs(norm, bool(n.i("keepdims", 1))), n.name)
    return h


def reciprocal(ctx: Ctx, n: OnnxNode) -> None:
    one = ctx.add_const(ctx.fresh(f"{n.name}_one"), np.array(1.0, dtype=np.float32))
    ctx.emit(OpKind.DIV, [one, _x(n)], [_out(n)], A.ElementwiseAttrs(), n.name)


FLOAT_HANDLERS: dict[str, Handler] = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "Gemm": gemm,
    "MatMul": matmul,
    "BatchNormalization": batch_norm,
    "Relu": _simple(OpKind.RELU),
    "Clip": clip,
    "LeakyRelu": leaky_relu,
    "Sigmoid": _simple(OpKind.SIGMOID),
    "HardSigmoid": hard_sigmoid,
    "HardSwish": _simple(OpKind.HARD_SWISH),
    "Tanh": _simple(OpKind.TANH),
    "MaxPool": _pool(OpKind.MAX_POOL2D),
    "AveragePool": _pool(OpKind.AVG_POOL2D),
    "GlobalAveragePool": _global_pool(OpKind.MEAN),
    "GlobalMaxPool": _global_pool(OpKind.REDUCE_MAX),
    "LRN": lrn,
    "Identity": _pass_through,
    "Add": _simple(OpKind.ADD),
    "Sum": _variadic(OpKind.ADD),
    "Mul": _simple(OpKind.MUL),
    "Sub": _simple(OpKind.SUB),
    "Div": _simple(OpKind.DIV),
    "Pow": _simple(OpKind.POW),
    "Max": _variadic(OpKind.MAXIMUM),
    "Min": _variadic(OpKind.MINIMUM),
    "Sqrt": _simple(OpKind.SQRT),
    "Reciprocal": reciprocal,
    "Exp": _simple(OpKind.EXP),
    "Log": _simple(OpKind.LOG),
    "Neg": _simple(OpKind.NEG),
    "Abs": _simple(OpKind.ABS),
    "Erf": _simple(OpKind.ERF),
    "Gelu": gelu,
    "PRelu": prelu,
    "Softmax": _softmax(OpKind.SOFTMAX),
    "LogSoftmax": _softmax(OpKind.LOG_SOFTMAX),
    "ReduceMean": _reduce(OpKind.MEAN, 18),
    "ReduceMax": _reduce(OpKind.REDUCE_MAX, 18),
    "ReduceSum": _reduce(OpKind.REDUCE_SUM, 13),
    "Equal": _compare(OpKind.EQUAL),
    "Less": _compare(OpKind.LESS),
    "Greater": _compare(OpKind.GREATER),
}
FLOAT_HANDLERS.update(SHAPE_HANDLERS)
