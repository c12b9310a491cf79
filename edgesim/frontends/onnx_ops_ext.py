"""ONNX handlers beyond the CNN core: the math long tail (trigonometric, smooth activations, boolean/modulo binary
ops, reductions, arg-reductions, cumulative sums, triangles), RMS/instance/group normalisation, and ops that
lower to data movement (Mean, DepthToSpace, SpaceToDepth, Tile).
"""

from __future__ import annotations

import math

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import ONNX_DTYPES, Ctx, OnnxNode, elem_type_name
from edgesim.frontends.onnx_ops import NCHW, Handler, _axes_arg, _axis, _out, _pass_through, _x
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


# ----- moved from onnx_ops (size): dropout, pad, resize, cast ------------------------------------------
def dropout(ctx: Ctx, n: OnnxNode) -> None:
    """Inference Dropout is the identity; training mode draws a random mask, which is refused."""
    mode = n.input(2)
    if mode:
        flag = ctx.need_const(mode, n, "training_mode")
        if bool(np.asarray(flag).reshape(-1)[0]):
            raise UnsupportedOpError("Dropout with training_mode true (random masks are not modelled)",
                                     file=ctx.path, node=n.name)
    if len(n.outputs) > 1 and n.outputs[1]:
        if n.outputs[1] in ctx.graph_outputs:
            raise UnsupportedOpError("Dropout mask as a graph output", file=ctx.path, node=n.name)
        ctx.add_const(n.outputs[1], np.ones(ctx.shape(_x(n)), dtype=bool))  # inference keeps every element
    _pass_through(ctx, n)


def pad(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    mode = n.s("mode", "constant")
    if ctx.opset < 11:
        flat = n.ints("pads") or n.ints("paddings") or [0] * (2 * rank)
        value = n.f("value", 0.0)
        axes = list(range(rank))
    else:
        flat = [int(v) for v in ctx.need_const(n.input(1), n, "pads").reshape(-1)]
        cv = ctx.need_const(n.input(2), n, "constant_value") if n.input(2) else None
        value = float(cv.reshape(-1)[0]) if cv is not None and cv.size else 0.0
        axes = ([_axis(ctx, n, int(v), rank) for v in ctx.need_const(n.input(3), n, "axes").reshape(-1)]
                if n.input(3) else list(range(rank)))
    k = len(axes)
    if len(flat) != 2 * k:
        raise ModelError(f"pads {flat} do not fit rank {rank}", file=ctx.path, node=n.name)
    if any(v < 0 for v in flat):
        raise UnsupportedOpError(f"Pad with negative pads {flat} (cropping)", file=ctx.path, node=n.name)
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise UnsupportedOpError(f"Pad mode '{mode}' (attribute 'mode')", file=ctx.path, node=n.name)
    per_axis = [(0, 0)] * rank
    for j, ax in enumerate(axes):
        per_axis[ax] = (flat[j], flat[j + k])
    ctx.emit(OpKind.PAD, [_x(n)], [_out(n)], A.PadAttrs(tuple(per_axis), mode, value), n.name)


_RESIZE_COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")


def _resize_targets(ctx: Ctx, n: OnnxNode, shape: tuple[int, ...]) -> tuple[list[int], list[float] | None]:
    """Full output shape, and the per-axis scales when the model states scales (None when it gives sizes)."""
    if n.op_type == "Upsample" and ctx.opset < 9:
        scales: list[float] | None = [float(v) for v in (n.attrs.get("scales") or [])]
        sizes = None
    elif n.op_type == "Upsample" or ctx.opset < 11:
        scales, sizes = [float(v) for v in ctx.need_const(n.input(1), n, "scales").reshape(-1)], None
    elif n.input(3):
        sizes = [int(v) for v in ctx.need_const(n.input(3), n, "sizes").reshape(-1)]
        scales = None
    else:
        scales, sizes = [float(v) for v in ctx.need_const(n.input(2), n, "scales").reshape(-1)], None
    rank = len(shape)
    axes = [a % rank for a in (n.ints("axes") or list(range(rank)))]
    given = sizes if sizes is not None else scales
    if given is None or len(given) != len(axes):
        raise ModelError(f"{n.op_type} scales/sizes {given} do not match axes {axes}", file=ctx.path, node=n.name)
    full = list(shape)
    full_scales = [1.0] * rank
    for j, ax in enumerate(axes):
        if sizes is not None:
            full[ax] = sizes[j]
            full_scales[ax] = sizes[j] / shape[ax]
        else:
            assert scales is not None
            full[ax] = int(math.floor(shape[ax] * scales[j]))
            full_scales[ax] = scales[j]
    return full, (full_scales if scales is not None else None)


def resize(ctx: Ctx, n: OnnxNode) -> None:
    shape = ctx.shape(_x(n))
    if len(shape) != 4:
        raise UnsupportedOpError(f"{n.op_type} of a rank-{len(shape)} tensor (only NCHW)", file=ctx.path,
                                 node=n.name)
    if n.i("antialias", 0) or n.i("exclude_outside", 0):
        raise UnsupportedOpError(f"{n.op_type} with antialias/exclude_outside", file=ctx.path, node=n.name)
    if n.s("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise UnsupportedOpError(f"{n.op_type} keep_aspect_ratio_policy "
                                 f"'{n.s('keep_aspect_ratio_policy', '')}'", file=ctx.path, node=n.name)
    full, scales = _resize_targets(ctx, n, shape)
    if full[0] != shape[0] or full[1] != shape[1]:
        raise UnsupportedOpError("Resize of the batch or channel axis", file=ctx.path, node=n.name)
    mode = n.s("mode", "nearest").lower()
    mode = "linear" if mode in ("bilinear", "linear") else mode
    if mode not in ("nearest", "linear"):
        raise UnsupportedOpError(f"{n.op_type} mode '{mode}' (attribute 'mode')", file=ctx.path, node=n.name)
    modern = ctx.opset >= 11 and n.op_type == "Resize"
    ctm = n.s("coordinate_transformation_mode", "half_pixel") if modern else "asymmetric"
    if ctm not in _RESIZE_COORDS:
        raise UnsupportedOpError(f"{n.op_type} coordinate_transformation_mode '{ctm}'", file=ctx.path,
                                 node=n.name)
    # opset < 11 nearest rounds down (onnx's reference Upsample / Resize-10)
    nearest = n.s("nearest_mode", "round_prefer_floor") if modern else "floor"
    attrs = A.ResizeAttrs((full[2], full[3]), mode, NCHW, align_corners=ctm == "align_corners",
                          half_pixel_centers=ctm in ("half_pixel", "pytorch_half_pixel"),
                          coordinate_mode=ctm, nearest_mode=nearest,
                          scales_hw=(scales[2], scales[3]) if scales is not None else None)
    ctx.emit(OpKind.RESIZE, [_x(n)], [_out(n)], attrs, n.name)


def _cast_to(ctx: Ctx, n: OnnxNode, code: int) -> None:
    to = ONNX_DTYPES.get(code)
    # int4 casts saturate/wrap by rules the executor does not model; float8/float4/int2/string have no IR type
    if to is None or to in (DType.INT4, DType.UINT4):
        raise UnsupportedOpError(f"{n.op_type} to {elem_type_name(code)} (attribute 'to') is not modelled",
                                 file=ctx.path, node=n.name)
    if n.i("saturate", 1) != 1 or n.s("round_mode", "up") != "up":
        raise UnsupportedOpError(f"{n.op_type} with saturate/round_mode", file=ctx.path, node=n.name)
    ctx.emit(OpKind.CAST, [_x(n)], [_out(n)], A.CastAttrs(to.label), n.name, dtypes=[to])


def cast(ctx: Ctx, n: OnnxNode) -> None:
    _cast_to(ctx, n, n.i("to", 1))


def cast_like(ctx: Ctx, n: OnnxNode) -> None:
    target = ctx.t(n.input(1), n).dtype
    code = next((k for k, v in ONNX_DTYPES.items() if v is target), 0)
    _cast_to(ctx, n, code)


EXT_HANDLERS: dict[str, Handler] = {
    "Dropout": dropout,
    "Pad": pad,
    "Resize": resize,
    "Upsample": resize,
    "Cast": cast,
    "CastLike": cast_like,
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
