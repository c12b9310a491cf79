"""TFLite builtins used by the TensorFlow model garden's common vision, audio and text models beyond the CNN core
(EfficientDet/SSD heads, DeepLab, PoseNet, YAMNet, MobileBERT/ALBERT): packing, arg-reductions, comparisons and
selects, elementwise math, tiling, depth/space rearrangement, GELU, L2 and local response normalisation.
Each maps onto an existing IR op with the builtin's semantics (TFLite reference kernels).
"""

from __future__ import annotations

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator as BO

from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor

from edgesim.frontends.tflite_ops import Emit, Handler, OpCtx, _plain  # isort: skip


def _axis(ctx: OpCtx, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx.error(f"{ctx.op_name} axis {axis} is out of range for rank {rank}")
    return axis % rank


def _pack(ctx: OpCtx) -> list[Emit]:
    """PACK (tf.stack): each input gains a 1-sized axis, then one CONCAT along it."""
    o = ctx.options(tflite.PackOptions)
    x = ctx.t(0)
    axis = _axis(ctx, int(o.Axis()) if o else 0, len(x.shape) + 1)
    shape = x.shape[:axis] + (1,) + x.shape[axis:]
    out: list[Emit] = []
    mids = []
    for k, name in enumerate(ctx.inputs):
        mid = ctx.new_tensor(f"{ctx.outputs[0]}/pack{k}", ctx.tensors[name].with_shape(shape))
        out.append(Emit(OpKind.RESHAPE, A.ReshapeAttrs(shape), (name,), (mid,)))
        mids.append(mid)
    out.append(Emit(OpKind.CONCAT, A.ConcatAttrs(axis), tuple(mids), tuple(ctx.outputs)))
    return out


def _unpack(ctx: OpCtx) -> list[Emit]:
    """UNPACK (tf.unstack): SPLIT into ones along the axis, then drop it."""
    o = ctx.options(tflite.UnpackOptions)
    x = ctx.t(0)
    axis = _axis(ctx, int(o.Axis()) if o else 0, len(x.shape))
    n = x.shape[axis]
    if n != len(ctx.outputs):
        raise ctx.error(f"UNPACK of {n} slices into {len(ctx.outputs)} outputs")
    part = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    final = x.shape[:axis] + x.shape[axis + 1:]
    mids = tuple(ctx.new_tensor(f"{name}/split", x.with_shape(part)) for name in ctx.outputs)
    out = [Emit(OpKind.SPLIT, A.SplitAttrs(axis, (1,) * n), (ctx.inputs[0],), mids)]
    out += [Emit(OpKind.RESHAPE, A.ReshapeAttrs(final), (m,), (name,)) for m, name in zip(mids, ctx.outputs,
                                                                                           strict=True)]
    return out


def _arg(fn: str) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        rank = len(ctx.t(0).shape)
        axis = _axis(ctx, int(np.asarray(ctx.const(1, "axis")).reshape(-1)[0]), rank)
        return ctx.one(OpKind.ARG_REDUCE, A.ArgReduceAttrs(axis, False, False, fn), (ctx.inputs[0],))
    return handler


def _reduce(fn: str) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        o = ctx.options(tflite.ReducerOptions)
        rank = len(ctx.t(0).shape)
        axes = tuple(sorted({_axis(ctx, int(a), rank) for a in ctx.const_ints(1, "axis")}))
        attrs = A.ReduceMathAttrs(axes, bool(o.KeepDims()) if o else False, fn)
        return ctx.one(OpKind.REDUCE_MATH, attrs, (ctx.inputs[0],))
    return handler


def _unary(fn: str, **params: float) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        attrs = A.MathAttrs(fn, params.get("alpha", 0.0), params.get("beta", 0.0), params.get("gamma", 0.0))
        return ctx.one(OpKind.UNARY_MATH, attrs, (ctx.inputs[0],))
    return handler


def _binary(fn: str, fmod: float = 0.0) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        return ctx.one(OpKind.BINARY_MATH, A.MathAttrs(fn, fmod), tuple(ctx.inputs[:2]))
    return handler


def _square(ctx: OpCtx) -> list[Emit]:
    return ctx.one(OpKind.MUL, A.ElementwiseAttrs(), (ctx.inputs[0], ctx.inputs[0]))


def _floor_div(ctx: OpCtx) -> list[Emit]:
    """floor(x / y): a DIV then FLOOR (integer tensors: DIV truncates, so only float inputs are accepted)."""
    if not ctx.t(0).dtype.is_float:
        raise ctx.error("FLOOR_DIV of integer tensors is not supported")
    mid = ctx.new_tensor(f"{ctx.outputs[0]}/div", ctx.out())
    return [Emit(OpKind.DIV, A.ElementwiseAttrs(), tuple(ctx.inputs[:2]), (mid,)),
            Emit(OpKind.UNARY_MATH, A.MathAttrs("floor"), (mid,), tuple(ctx.outputs))]


def _select(ctx: OpCtx) -> list[Emit]:
    return ctx.one(OpKind.WHERE, A.NoAttrs(), tuple(ctx.inputs[:3]))


def _tile(ctx: OpCtx) -> list[Emit]:
    x = ctx.t(0)
    reps = ctx.const_ints(1, "multiples")
    if len(reps) != len(x.shape) or min(reps, default=1) < 1:
        raise ctx.error(f"TILE multiples {reps} do not fit rank {len(x.shape)}")
    todo = [ax for ax, r in enumerate(reps) if r > 1]
    if not todo:
        return ctx.one(OpKind.IDENTITY, A.NoAttrs(), (ctx.inputs[0],))
    out: list[Emit] = []
    cur, shape = ctx.inputs[0], list(x.shape)
    for j, ax in enumerate(todo):
        shape[ax] *= reps[ax]
        nxt = ctx.outputs[0] if j == len(todo) - 1 else ctx.new_tensor(f"{ctx.outputs[0]}/tile{ax}",
                                                                      x.with_shape(tuple(shape)))
        out.append(Emit(OpKind.CONCAT, A.ConcatAttrs(ax), (cur,) * reps[ax], (nxt,)))
        cur = nxt
    return out


def _broadcast_to(ctx: OpCtx) -> list[Emit]:
    return ctx.one(OpKind.EXPAND, A.ExpandAttrs(ctx.const_ints(1, "shape")), (ctx.inputs[0],))


def _cumsum(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.CumsumOptions)
    axis = _axis(ctx, int(np.asarray(ctx.const(1, "axis")).reshape(-1)[0]), len(ctx.t(0).shape))
    attrs = A.CumSumAttrs(axis, bool(o.Exclusive()) if o else False, bool(o.Reverse()) if o else False)
    return ctx.one(OpKind.CUMSUM, attrs, (ctx.inputs[0],))


def _gelu(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.GeluOptions)
    approx = bool(o.Approximate()) if o else False
    return ctx.one(OpKind.GELU, A.GeluAttrs("tanh" if approx else "none"), (ctx.inputs[0],))


def _depth_space(to_space: bool) -> Handler:
    """NHWC DEPTH_TO_SPACE / SPACE_TO_DEPTH (TensorFlow's DCR order) as reshape -> transpose -> reshape."""
    def handler(ctx: OpCtx) -> list[Emit]:
        o = ctx.options(tflite.DepthToSpaceOptions if to_space else tflite.SpaceToDepthOptions)
        bs = int(o.BlockSize()) if o else 0
        x = ctx.t(0)
        if len(x.shape) != 4 or bs <= 0:
            raise ctx.error(f"{ctx.op_name} needs a 4-D input and a positive block size")
        n, h, w, c = x.shape
        if to_space:
            tmp, perm = (n, h, w, bs, bs, c // (bs * bs)), (0, 1, 3, 2, 4, 5)
        else:
            tmp, perm = (n, h // bs, bs, w // bs, bs, c), (0, 1, 3, 2, 4, 5)
        moved = tuple(tmp[p] for p in perm)
        t1 = ctx.new_tensor(f"{ctx.outputs[0]}/6d", x.with_shape(tmp))
        t2 = ctx.new_tensor(f"{ctx.outputs[0]}/perm", x.with_shape(moved))
        return [Emit(OpKind.RESHAPE, A.ReshapeAttrs(tmp), (ctx.inputs[0],), (t1,)),
                Emit(OpKind.TRANSPOSE, A.TransposeAttrs(perm), (t1,), (t2,)),
                Emit(OpKind.RESHAPE, A.ReshapeAttrs(ctx.out().shape), (t2,), tuple(ctx.outputs))]
    return handler


def _l2_norm(ctx: OpCtx) -> list[Emit]:
    """L2_NORMALIZATION over the last axis: x / sqrt(max(sum(x^2), 1e-6)) (TFLite reference epsilon)."""
    x = ctx.t(0)
    if not x.dtype.is_float:
        raise ctx.error("quantized L2_NORMALIZATION is not supported")
    last = len(x.shape) - 1
    red = x.with_shape(x.shape[:-1] + (1,))
    sq, inv = ctx.new_tensor(f"{ctx.outputs[0]}/ss", red), ctx.new_tensor(f"{ctx.outputs[0]}/rsqrt", red)
    floor = ctx.new_tensor(f"{ctx.outputs[0]}/eps", red)
    eps = ctx.new_tensor(f"{ctx.outputs[0]}/eps_c", x.with_shape(()))
    ctx.tensors[eps] = Tensor(eps, (), DType.FP32, None, np.array(1e-6, np.float32))
    return [Emit(OpKind.REDUCE_MATH, A.ReduceMathAttrs((last,), True, "sum_square"), (ctx.inputs[0],), (sq,)),
            Emit(OpKind.MAXIMUM, A.NoAttrs(), (sq, eps), (floor,)),
            Emit(OpKind.RSQRT, A.NoAttrs(), (floor,), (inv,)),
            Emit(OpKind.MUL, A.ElementwiseAttrs(), (ctx.inputs[0], inv), tuple(ctx.outputs))]


def _lrn(ctx: OpCtx) -> list[Emit]:
    """TFLite LRN sums squares over [c - radius, c + radius] and does not divide alpha by the window size."""
    o = ctx.options(tflite.LocalResponseNormalizationOptions)
    radius = int(o.Radius()) if o else 5
    size = 2 * radius + 1
    alpha = float(o.Alpha()) if o else 1.0
    attrs = A.LRNAttrs(size, alpha * size, float(o.Beta()) if o else 0.5, float(o.Bias()) if o else 1.0,
                       A.Layout.NHWC)
    return ctx.one(OpKind.LRN, attrs, (ctx.inputs[0],))


def _log_softmax(ctx: OpCtx) -> list[Emit]:
    return ctx.one(OpKind.LOG_SOFTMAX, A.SoftmaxAttrs(len(ctx.t(0).shape) - 1), (ctx.inputs[0],))


def _compare(kind: OpKind) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        return ctx.one(kind, A.NoAttrs(), tuple(ctx.inputs[:2]))
    return handler


def _not_equal(ctx: OpCtx) -> list[Emit]:
    mid = ctx.new_tensor(f"{ctx.outputs[0]}/eq", ctx.out().with_dtype(DType.BOOL))
    return [Emit(OpKind.EQUAL, A.NoAttrs(), tuple(ctx.inputs[:2]), (mid,)),
            Emit(OpKind.UNARY_MATH, A.MathAttrs("not"), (mid,), tuple(ctx.outputs))]


EXT_HANDLERS: dict[int, Handler] = {
    BO.PACK: _pack,
    BO.UNPACK: _unpack,
    BO.ARG_MAX: _arg("max"),
    BO.ARG_MIN: _arg("min"),
    BO.REDUCE_MIN: _reduce("min"),
    BO.REDUCE_PROD: _reduce("prod"),
    BO.SIN: _unary("sin"),
    BO.COS: _unary("cos"),
    BO.FLOOR: _unary("floor"),
    BO.CEIL: _unary("ceil"),
    BO.ROUND: _unary("round"),
    BO.SIGN: _unary("sign"),
    BO.ELU: _unary("elu", alpha=1.0),
    BO.LOGICAL_NOT: _unary("not"),
    BO.LOGICAL_AND: _binary("and"),
    BO.LOGICAL_OR: _binary("or"),
    BO.FLOOR_MOD: _binary("mod"),
    BO.GREATER_EQUAL: _binary("greater_equal"),
    BO.LESS_EQUAL: _binary("less_equal"),
    BO.EQUAL: _compare(OpKind.EQUAL),
    BO.LESS: _compare(OpKind.LESS),
    BO.GREATER: _compare(OpKind.GREATER),
    BO.NOT_EQUAL: _not_equal,
    BO.POW: _plain(OpKind.POW),
    BO.SQUARE: _square,
    BO.FLOOR_DIV: _floor_div,
    BO.SELECT: _select,
    BO.SELECT_V2: _select,
    BO.TILE: _tile,
    BO.BROADCAST_TO: _broadcast_to,
    BO.CUMSUM: _cumsum,
    BO.GELU: _gelu,
    BO.DEPTH_TO_SPACE: _depth_space(True),
    BO.SPACE_TO_DEPTH: _depth_space(False),
    BO.L2_NORMALIZATION: _l2_norm,
    BO.LOCAL_RESPONSE_NORMALIZATION: _lrn,
    BO.LOG_SOFTMAX: _log_softmax,
}
