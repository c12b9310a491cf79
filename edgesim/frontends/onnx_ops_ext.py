"""ONNX handlers beyond the CNN core: the math long tail (trigonometric, smooth activations, boolean/modulo binary
ops, reductions, arg-reductions, cumulative sums, triangles), RMS/instance/group normalisation, and ops that
lower to data movement (Mean, DepthToSpace, SpaceToDepth, Tile).
"""

from __future__ import annotations

import math

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.frontends.onnx_ops import Handler, _axes_arg, _axis, _out, _pass_through, _x
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind

# ONNX op -> (function, attribute defaults in MathAttrs order alpha, beta, gamma, as (name, default) pairs)
_UNARY: dict[str, tuple[str, tuple[tuple[str, float], ...]]] = {
    "Sin": ("sin", ()), "Cos": ("cos", ()), "Tan": ("tan", ()), "Asin": ("asin", ()), "Acos": ("acos", ()),
    "Atan": ("atan", ()), "Sinh": ("sinh", ()), "Cosh": ("cosh", ()), "Asinh": ("asinh", ()),
    "Acosh": ("acosh", ()), "Atanh": ("atanh", ()),
    "Elu": ("elu", (("alpha", 1.0),)),
    "Selu": ("selu", (("alpha", 1.67326319217681884765625), ("", 0.0), ("gamma", 1.05070102214813232421875))),
    "Celu": ("celu", (("alpha", 1.0),)),
    "Softplus": ("softplus", ()), "Softsign": ("softsign", ()), "Mish": ("mish", ()),
    "Swish": ("swish", (("alpha", 1.0),)),
    "Floor": ("floor", ()), "Ceil": ("ceil", ()), "Round": ("round", ()), "Sign": ("sign", ()),
    "Not": ("not", ()), "IsNaN": ("isnan", ()),
    "IsInf": ("isinf", (("detect_negative", 1.0), ("detect_positive", 1.0))),
    "ThresholdedRelu": ("thresholded_relu", (("alpha", 1.0),)),
    "Shrink": ("shrink", (("lambd", 0.5), ("bias", 0.0))),
}
_BOOL_OUT = {"Not", "IsNaN", "IsInf", "And", "Or", "Xor", "GreaterOrEqual", "LessOrEqual"}
_BINARY = {"Mod": "mod", "And": "and", "Or": "or", "Xor": "xor", "GreaterOrEqual": "greater_equal",
           "LessOrEqual": "less_equal"}
_REDUCE = {"ReduceMin": "min", "ReduceProd": "prod", "ReduceL1": "l1", "ReduceL2": "l2", "ReduceLogSum": "log_sum",
           "ReduceLogSumExp": "log_sum_exp", "ReduceSumSquare": "sum_square"}


def _math_attrs(n: OnnxNode, fn: str, params: tuple[tuple[str, float], ...]) -> A.MathAttrs:
    vals = [n.f(name, default) if name else default for name, default in params] + [0.0, 0.0, 0.0]
    return A.MathAttrs(fn, vals[0], vals[1], vals[2])


def unary(ctx: Ctx, n: OnnxNode) -> None:
    fn, params = _UNARY[n.op_type]
    dt = [DType.BOOL] if n.op_type in _BOOL_OUT else None
    ctx.emit(OpKind.UNARY_MATH, [_x(n)], [_out(n)], _math_attrs(n, fn, params), n.name, dtypes=dt)


def binary(ctx: Ctx, n: OnnxNode) -> None:
    fn = _BINARY[n.op_type]
    attrs = A.MathAttrs(fn, float(n.i("fmod", 0)))
    if fn == "mod" and not attrs.alpha and ctx.t(_x(n)).dtype.is_float:
        raise ModelError("Mod of floating-point tensors needs fmod=1", file=ctx.path, node=n.name)
    dt = [DType.BOOL] if n.op_type in _BOOL_OUT else None
    ctx.emit(OpKind.BINARY_MATH, list(n.inputs[:2]), [_out(n)], attrs, n.name, dtypes=dt)


def reduce(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    axes = _axes_arg(ctx, n, 18)
    if not axes:
        if n.i("noop_with_empty_axes", 0):
            _pass_through(ctx, n)
            return
        axes = list(range(rank))
    norm = tuple(sorted({_axis(ctx, n, a, rank) for a in axes}))
    ctx.emit(OpKind.REDUCE_MATH, [_x(n)], [_out(n)],
             A.ReduceMathAttrs(norm, bool(n.i("keepdims", 1)), _REDUCE[n.op_type]), n.name)


def arg_reduce(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    attrs = A.ArgReduceAttrs(_axis(ctx, n, n.i("axis", 0), rank), bool(n.i("keepdims", 1)),
                             bool(n.i("select_last_index", 0)), "max" if n.op_type == "ArgMax" else "min")
    ctx.emit(OpKind.ARG_REDUCE, [_x(n)], [_out(n)], attrs, n.name, dtypes=[DType.INT64])


def cumsum(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    axis = int(ctx.need_const(n.input(1), n, "axis").reshape(-1)[0])
    attrs = A.CumSumAttrs(_axis(ctx, n, axis, rank), bool(n.i("exclusive", 0)), bool(n.i("reverse", 0)))
    ctx.emit(OpKind.CUMSUM, [_x(n)], [_out(n)], attrs, n.name)


def trilu(ctx: Ctx, n: OnnxNode) -> None:
    k = int(ctx.need_const(n.input(1), n, "k").reshape(-1)[0]) if n.input(1) else 0
    if ctx.rank(_x(n)) < 2:
        raise ModelError("Trilu needs a tensor of rank >= 2", file=ctx.path, node=n.name)
    ctx.emit(OpKind.TRILU, [_x(n)], [_out(n)], A.TriluAttrs(bool(n.i("upper", 1)), k), n.name)


def rms_norm(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    attrs = A.LayerNormAttrs(_axis(ctx, n, n.i("axis", -1), rank), n.f("epsilon", 1e-5))
    ctx.emit(OpKind.RMS_NORM, [i for i in n.inputs[:2] if i], [_out(n)], attrs, n.name)


def _per_channel(ctx: Ctx, n: OnnxNode, raw: str, channels: int, groups: int, what: str) -> str:
    """A per-channel scale/bias constant (GroupNormalization-18's per-group values repeated per channel)."""
    data = ctx.need_const(raw, n, what).reshape(-1)
    if data.size == groups and groups != channels:
        data = np.repeat(data, channels // groups)
    if data.size != channels:
        raise ModelError(f"{what} has {data.size} values for {channels} channels", file=ctx.path, node=n.name)
    return ctx.add_const(ctx.fresh(f"{raw}_c"), data.astype(np.float32))


def group_norm(ctx: Ctx, n: OnnxNode) -> None:
    shape = ctx.shape(_x(n))
    if len(shape) < 3:
        raise UnsupportedOpError(f"{n.op_type} of a rank-{len(shape)} tensor", file=ctx.path, node=n.name)
    c = shape[1]
    groups = c if n.op_type == "InstanceNormalization" else n.i("num_groups", 1)
    if groups <= 0 or c % groups:
        raise ModelError(f"num_groups {groups} does not divide {c} channels", file=ctx.path, node=n.name)
    scale = _per_channel(ctx, n, n.input(1), c, groups, "scale")
    bias = _per_channel(ctx, n, n.input(2), c, groups, "bias")
    ctx.emit(OpKind.GROUP_NORM, [_x(n), scale, bias], [_out(n)], A.GroupNormAttrs(groups, n.f("epsilon", 1e-5)),
             n.name)


def mean(ctx: Ctx, n: OnnxNode) -> None:
    """Mean of k tensors: one k-input ADD and a multiply by 1/k."""
    ins = [i for i in n.inputs if i]
    if len(ins) == 1:
        _pass_through(ctx, n)
        return
    total = ctx.fresh(f"{_out(n)}_sum")
    ctx.emit(OpKind.ADD, ins, [total], A.ElementwiseAttrs(), f"{n.name}_sum")
    k = ctx.add_const(ctx.fresh(f"{n.name}_inv"), np.array(1.0 / len(ins), np.float32))
    ctx.emit(OpKind.MUL, [total, k], [_out(n)], A.ElementwiseAttrs(), n.name)


def depth_space(ctx: Ctx, n: OnnxNode) -> None:
    """DepthToSpace / SpaceToDepth as reshape -> transpose -> reshape (as the ONNX specification defines them)."""
    shape = ctx.shape(_x(n))
    if len(shape) != 4:
        raise UnsupportedOpError(f"{n.op_type} of a rank-{len(shape)} tensor", file=ctx.path, node=n.name)
    b, c, h, w = shape
    bs = n.i("blocksize", 0)
    if bs <= 0:
        raise ModelError("blocksize must be positive", file=ctx.path, node=n.name)
    if n.op_type == "DepthToSpace":
        if c % (bs * bs):
            raise ModelError(f"{c} channels are not divisible by blocksize^2", file=ctx.path, node=n.name)
        if n.s("mode", "DCR") == "DCR":
            tmp, perm = (b, bs, bs, c // bs ** 2, h, w), (0, 3, 4, 1, 5, 2)
        else:
            tmp, perm = (b, c // bs ** 2, bs, bs, h, w), (0, 1, 4, 2, 5, 3)
        final = (b, c // bs ** 2, h * bs, w * bs)
    else:
        if h % bs or w % bs:
            raise ModelError(f"spatial size {h}x{w} is not divisible by blocksize", file=ctx.path, node=n.name)
        crd = n.s("mode", "DCR") == "CRD"  # CRD: channel-major output (c, block row, block col)
        tmp, perm = (b, c, h // bs, bs, w // bs, bs), (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4)
        final = (b, c * bs * bs, h // bs, w // bs)
    t1, t2 = ctx.fresh(f"{_out(n)}_6d"), ctx.fresh(f"{_out(n)}_perm")
    ctx.emit(OpKind.RESHAPE, [_x(n)], [t1], A.ReshapeAttrs(tmp), f"{n.name}_split")
    ctx.emit(OpKind.TRANSPOSE, [t1], [t2], A.TransposeAttrs(perm), f"{n.name}_perm")
    ctx.emit(OpKind.RESHAPE, [t2], [_out(n)], A.ReshapeAttrs(final), n.name)


def tile(ctx: Ctx, n: OnnxNode) -> None:
    """Tile: per repeated axis, a CONCAT of copies (what a runtime without a tile kernel does)."""
    shape = ctx.shape(_x(n))
    reps = [int(v) for v in ctx.need_const(n.input(1), n, "repeats").reshape(-1)]
    if len(reps) != len(shape) or any(r < 1 for r in reps):
        raise ModelError(f"repeats {reps} do not fit rank {len(shape)}", file=ctx.path, node=n.name)
    cur = _x(n)
    todo = [ax for ax, r in enumerate(reps) if r > 1]
    if not todo:
        _pass_through(ctx, n)
        return
    for j, ax in enumerate(todo):
        out = _out(n) if j == len(todo) - 1 else ctx.fresh(f"{_out(n)}_t{ax}")
        ctx.emit(OpKind.CONCAT, [cur] * reps[ax], [out], A.ConcatAttrs(ax), f"{n.name}_axis{ax}")
        cur = out
    assert math.prod(ctx.shape(_out(n))) == math.prod(shape) * math.prod(reps)


EXT_HANDLERS: dict[str, Handler] = {
    **{op: unary for op in _UNARY},
    **{op: binary for op in _BINARY},
    **{op: reduce for op in _REDUCE},
    "ArgMax": arg_reduce,
    "ArgMin": arg_reduce,
    "CumSum": cumsum,
    "Trilu": trilu,
    "RMSNormalization": rms_norm,
    "InstanceNormalization": group_norm,
    "GroupNormalization": group_norm,
    "Mean": mean,
    "DepthToSpace": depth_space,
    "SpaceToDepth": depth_space,
    "Tile": tile,
}
