"""ONNX handlers beyond the CNN core: the math long tail (trigonometric, smooth activations, boolean/modulo binary
ops, reductions, arg-reductions, cumulative sums, triangles), RMS/instance/group normalisation, and ops that
lower to data movement (Mean, DepthToSpace, SpaceToDepth, Tile).
"""

from __future__ import annotations

import math

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import ONNX_DTYPES, Ctx, OnnxNode, elem_type_name
from edgesim.frontends.onnx_ops import NCHW, _pass_through, _reduce_axes, _scalar
from edgesim.frontends.onnx_shape import Handler, _axis, _out, _x
from edgesim.ir import attrs as A
from edgesim.ir import lowbit
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
    attrs = A.MathAttrs(fn, float(n.i("fmod", 0)))  # fmod=0 on floats: the divisor's sign, as numpy.mod
    dt = [DType.BOOL] if n.op_type in _BOOL_OUT else None
    ctx.emit(OpKind.BINARY_MATH, list(n.inputs[:2]), [_out(n)], attrs, n.name, dtypes=dt)


def reduce(ctx: Ctx, n: OnnxNode) -> None:
    norm = _reduce_axes(ctx, n, 18)
    if norm is not None:
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
    attrs = A.CumSumAttrs(_axis(ctx, n, axis, rank), bool(n.i("exclusive", 0)), bool(n.i("reverse", 0)),
                          n.op_type == "CumProd")
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
    """Inference Dropout is the identity, and so is training mode with ratio 0 (nothing dropped, nothing
    rescaled); any other training mode draws a random mask, which is refused."""
    mode = n.input(2)
    if mode and bool(np.asarray(ctx.need_const(mode, n, "training_mode")).reshape(-1)[0]):
        ratio = float(np.asarray(ctx.need_const(n.input(1), n, "ratio")).reshape(-1)[0]) if n.input(1) else 0.5
        if ratio != 0.0:
            raise UnsupportedOpError(f"Dropout with training_mode true and ratio {ratio:g} (random masks are not "
                                     "modelled)", file=ctx.path, node=n.name)
    if len(n.outputs) > 1 and n.outputs[1]:
        shape = ctx.shape(_x(n))
        if n.outputs[1] in ctx.graph_outputs:  # a runtime writes the all-true mask: one broadcast store
            one = ctx.add_const(ctx.fresh(f"{n.name}_true"), np.ones((), dtype=bool))
            ctx.emit(OpKind.EXPAND, [one], [n.outputs[1]], A.ExpandAttrs(shape), f"{n.name}_mask",
                     dtypes=[DType.BOOL])
        else:
            ctx.add_const(n.outputs[1], np.ones(shape, dtype=bool))  # every element kept
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


_RESIZE_COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                  "half_pixel_symmetric", "tf_crop_and_resize")


def _resize_roi(ctx: Ctx, n: OnnxNode, rank: int) -> tuple[float, float, float, float]:
    """tf_crop_and_resize's window over H and W; batch and channel must be taken whole."""
    axes = [a % rank for a in (n.ints("axes") or list(range(rank)))]
    roi = [float(v) for v in ctx.need_const(n.input(1), n, "roi").reshape(-1)]
    if len(roi) != 2 * len(axes):
        raise ModelError(f"roi has {len(roi)} values for {len(axes)} axes", file=ctx.path, node=n.name)
    window = {ax: (roi[j], roi[j + len(axes)]) for j, ax in enumerate(axes)}
    if any(window.get(ax, (0.0, 1.0)) != (0.0, 1.0) for ax in (0, 1)):
        raise UnsupportedOpError("Resize cropping the batch or channel axis", file=ctx.path, node=n.name)
    (h0, h1), (w0, w1) = window.get(2, (0.0, 1.0)), window.get(3, (0.0, 1.0))
    return h0, w0, h1, w1


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
    policy = n.s("keep_aspect_ratio_policy", "stretch")
    if sizes is not None and policy in ("not_larger", "not_smaller"):
        # one scale for every resized axis (the smallest / largest ratio), sizes rounded half up (onnx)
        ratios = [sizes[j] / shape[ax] for j, ax in enumerate(axes)]
        s = min(ratios) if policy == "not_larger" else max(ratios)
        for ax in axes:
            full[ax], full_scales[ax] = int(s * shape[ax] + 0.5), s
        return full, full_scales
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
    antialias = bool(n.i("antialias", 0))
    if antialias and n.s("mode", "nearest").lower() == "nearest":
        raise UnsupportedOpError(f"{n.op_type} nearest with antialias", file=ctx.path, node=n.name)
    if n.s("keep_aspect_ratio_policy", "stretch") not in ("stretch", "not_larger", "not_smaller"):
        raise UnsupportedOpError(f"{n.op_type} keep_aspect_ratio_policy "
                                 f"'{n.s('keep_aspect_ratio_policy', '')}'", file=ctx.path, node=n.name)
    full, scales = _resize_targets(ctx, n, shape)
    if full[0] != shape[0] or full[1] != shape[1]:
        raise UnsupportedOpError("Resize of the batch or channel axis", file=ctx.path, node=n.name)
    mode = n.s("mode", "nearest").lower()
    mode = "linear" if mode in ("bilinear", "linear") else mode
    if mode not in ("nearest", "linear", "cubic"):
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
                          scales_hw=(scales[2], scales[3]) if scales is not None else None,
                          cubic_coeff_a=n.f("cubic_coeff_a", -0.75), exclude_outside=bool(n.i("exclude_outside", 0)),
                          antialias=antialias, extrapolation_value=n.f("extrapolation_value", 0.0),
                          roi_hw=_resize_roi(ctx, n, len(shape)) if ctm == "tf_crop_and_resize" else None)
    ctx.emit(OpKind.RESIZE, [_x(n)], [_out(n)], attrs, n.name)


def _cast_to(ctx: Ctx, n: OnnxNode, code: int) -> None:
    to = ONNX_DTYPES.get(code)
    if to is None:  # strings and complex numbers have no IR type
        raise UnsupportedOpError(f"{n.op_type} to {elem_type_name(code)} (attribute 'to') is not modelled",
                                 file=ctx.path, node=n.name)
    round_mode = n.s("round_mode", "up")
    if round_mode not in ("up", "down", "nearest"):
        raise ModelError(f"{n.op_type} round_mode '{round_mode}' is not up, down or nearest", file=ctx.path,
                         node=n.name)
    ctx.emit(OpKind.CAST, [_x(n)], [_out(n)], A.CastAttrs(to.label, bool(n.i("saturate", 1)), round_mode),
             n.name, dtypes=[to])


def cast(ctx: Ctx, n: OnnxNode) -> None:
    _cast_to(ctx, n, n.i("to", 1))


def _cast_const(data: np.ndarray, target: DType, n: OnnxNode) -> np.ndarray:
    if target is DType.BF16:
        import ml_dtypes

        return data.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)
    if target.ml_name is not None:
        return lowbit.cast(data.astype(np.float32), target, bool(n.i("saturate", 1)), "up").astype(target.numpy())
    return data.astype(target.numpy())


def cast_like(ctx: Ctx, n: OnnxNode) -> None:
    target = ctx.t(n.input(1), n).dtype
    data = ctx.const(n.inputs[0])
    if data is not None and (target.is_float or np.asarray(data).dtype.kind in "iub"):
        # a constant cast to a run-time tensor's type (function bodies build -inf / 0 this way): fold it, on the
        # target's grid (bfloat16 and the low-bit types are held in a wider numpy type)
        ctx.add_const(_out(n), _cast_const(np.asarray(data), target, n), dtype=target)
        return
    code = next((k for k, v in ONNX_DTYPES.items() if v is target), 0)
    _cast_to(ctx, n, code)


def gather_elements(ctx: Ctx, n: OnnxNode) -> None:
    axis = _axis(ctx, n, n.i("axis", 0), ctx.rank(_x(n)))
    ctx.emit(OpKind.GATHER_ELEMENTS, [_x(n), n.input(1)], [_out(n)], A.GatherAttrs(axis), n.name)


def gather_nd(ctx: Ctx, n: OnnxNode) -> None:
    ctx.emit(OpKind.GATHER_ND, [_x(n), n.input(1)], [_out(n)], A.GatherNDAttrs(n.i("batch_dims", 0)), n.name)


def scatter_elements(ctx: Ctx, n: OnnxNode) -> None:
    nd = n.op_type == "ScatterND"
    axis = 0 if nd else _axis(ctx, n, n.i("axis", 0), ctx.rank(_x(n)))
    red = n.s("reduction", "none")
    if red not in ("none", "add", "mul", "max", "min"):
        raise UnsupportedOpError(f"{n.op_type} reduction '{red}'", file=ctx.path, node=n.name)
    op = OpKind.SCATTER_ND if nd else OpKind.SCATTER_ELEMENTS
    ctx.emit(op, list(n.inputs[:3]), [_out(n)], A.ScatterAttrs(axis, red), n.name)


def topk(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    k = int(n.attrs["k"]) if ctx.opset < 10 else int(ctx.need_const(n.input(1), n, "k").reshape(-1)[0])
    if not n.i("sorted", 1):
        raise UnsupportedOpError("TopK with sorted=0 (unspecified order)", file=ctx.path, node=n.name)
    attrs = A.TopKAttrs(_axis(ctx, n, n.i("axis", -1), rank), k, bool(n.i("largest", 1)))
    outs = [o or ctx.fresh(f"{n.name}_unused") for o in (list(n.outputs) + ["", ""])[:2]]
    ctx.emit(OpKind.TOPK, [_x(n)], outs, attrs, n.name, dtypes=[None, DType.INT64])


def hardmax(ctx: Ctx, n: OnnxNode) -> None:
    """1 at the first maximum along the axis, 0 elsewhere: ARG_REDUCE, compare with the axis positions, cast.
    Before opset 13 the input is flattened to 2-D at ``axis`` (as Softmax)."""
    x, shape = _x(n), ctx.shape(_x(n))
    rank = len(shape)
    axis = _axis(ctx, n, n.i("axis", -1 if ctx.opset >= 13 else 1), rank)
    if ctx.opset < 13 and axis != rank - 1:
        flat = ctx.fresh(f"{n.name}_flat")
        ctx.emit(OpKind.RESHAPE, [x], [flat], A.ReshapeAttrs((math.prod(shape[:axis]), math.prod(shape[axis:]))),
                 f"{n.name}_flatten")
        x, axis = flat, 1
    xs = ctx.shape(x)
    am, eq, out = ctx.fresh(f"{n.name}_arg"), ctx.fresh(f"{n.name}_eq"), _out(n)
    ctx.emit(OpKind.ARG_REDUCE, [x], [am], A.ArgReduceAttrs(axis, True, False, "max"), f"{n.name}_argmax",
             dtypes=[DType.INT64])
    iota = np.arange(xs[axis], dtype=np.int64).reshape([-1 if i == axis else 1 for i in range(len(xs))])
    pos = ctx.add_const(ctx.fresh(f"{n.name}_pos"), iota)
    ctx.emit(OpKind.EQUAL, [am, pos], [eq], A.NoAttrs(), f"{n.name}_eq", dtypes=[DType.BOOL])
    dt = ctx.t(x).dtype
    target = out if xs == shape else ctx.fresh(f"{n.name}_2d")
    ctx.emit(OpKind.CAST, [eq], [target], A.CastAttrs(dt.label), n.name, dtypes=[dt])
    if target != out:
        ctx.emit(OpKind.RESHAPE, [target], [out], A.ReshapeAttrs(shape), f"{n.name}_unflatten")


def one_hot(ctx: Ctx, n: OnnxNode) -> None:
    """OneHot: negative indices count from the end, out-of-range ones select nothing; a compare with the
    positions along the new axis, then a select between the off and on values."""
    idx = _x(n)
    depth = int(np.asarray(ctx.need_const(n.input(1), n, "depth")).reshape(-1)[0])
    values = np.asarray(ctx.need_const(n.input(2), n, "values")).reshape(-1)
    shape = ctx.shape(idx)
    axis = _axis(ctx, n, n.i("axis", -1), len(shape) + 1)
    it = ctx.t(idx).dtype
    zero = ctx.add_const(ctx.fresh(f"{n.name}_zero"), np.zeros((), it.numpy()))
    dep = ctx.add_const(ctx.fresh(f"{n.name}_depth"), np.array(depth, it.numpy()))
    neg, wrapped, fixed = (ctx.fresh(f"{n.name}_{k}") for k in ("neg", "wrapped", "fixed"))
    ctx.emit(OpKind.LESS, [idx, zero], [neg], A.NoAttrs(), f"{n.name}_neg", dtypes=[DType.BOOL])
    ctx.emit(OpKind.ADD, [idx, dep], [wrapped], A.ElementwiseAttrs(), f"{n.name}_wrap")
    ctx.emit(OpKind.WHERE, [neg, wrapped, idx], [fixed], A.NoAttrs(), f"{n.name}_fix", dtypes=[it])
    unsq = ctx.fresh(f"{n.name}_unsq")
    ctx.emit(OpKind.RESHAPE, [fixed], [unsq], A.ReshapeAttrs(shape[:axis] + (1,) + shape[axis:]), f"{n.name}_unsq")
    iota = np.arange(depth).astype(it.numpy()).reshape([-1 if i == axis else 1 for i in range(len(shape) + 1)])
    pos = ctx.add_const(ctx.fresh(f"{n.name}_pos"), iota)
    eq = ctx.fresh(f"{n.name}_eq")
    ctx.emit(OpKind.EQUAL, [unsq, pos], [eq], A.NoAttrs(), f"{n.name}_eq", dtypes=[DType.BOOL])
    off = ctx.add_const(ctx.fresh(f"{n.name}_off"), values[:1].reshape(()))
    on = ctx.add_const(ctx.fresh(f"{n.name}_on"), values[1:2].reshape(()))
    ctx.emit(OpKind.WHERE, [eq, on, off], [_out(n)], A.NoAttrs(), n.name, dtypes=[ctx.t(on).dtype])


def grid_sample(ctx: Ctx, n: OnnxNode) -> None:
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(n.s("mode", "linear"), n.s("mode", "linear"))
    pad = n.s("padding_mode", "zeros")
    if mode not in ("nearest", "linear", "cubic") or pad not in ("zeros", "border", "reflection"):
        raise UnsupportedOpError(f"GridSample mode '{mode}' / padding_mode '{pad}'", file=ctx.path, node=n.name)
    attrs = A.GridSampleAttrs(mode, pad, bool(n.i("align_corners", 0)))
    ctx.emit(OpKind.GRID_SAMPLE, [_x(n), n.input(1)], [_out(n)], attrs, n.name)


def layer_norm(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    axis = _axis(ctx, n, n.i("axis", -1), rank)
    ins = [i for i in n.inputs[:3]]
    eps = n.f("epsilon", 1e-5)
    ctx.emit(OpKind.LAYER_NORM, ins, [_out(n)], A.LayerNormAttrs(axis, eps), n.name)
    mean_out, inv_out = n.outputs[1] if len(n.outputs) > 1 else "", n.outputs[2] if len(n.outputs) > 2 else ""
    if mean_out or inv_out:
        _layer_norm_stats(ctx, n, axis, eps, mean_out, inv_out)


def _layer_norm_stats(ctx: Ctx, n: OnnxNode, axis: int, eps: float, mean_out: str, inv_out: str) -> None:
    """LayerNormalization's optional Mean and InvStdDev outputs, from reductions over axis..last."""
    rank = ctx.rank(_x(n))
    red = A.ReduceAttrs(tuple(range(axis, rank)), True)
    mean = mean_out or ctx.fresh(f"{n.name}_mean")
    ctx.emit(OpKind.MEAN, [_x(n)], [mean], red, f"{n.name}_mean")
    if not inv_out:
        return
    d, sq, var = ctx.fresh(f"{n.name}_d"), ctx.fresh(f"{n.name}_sq"), ctx.fresh(f"{n.name}_var")
    ve = ctx.fresh(f"{n.name}_ve")
    ctx.emit(OpKind.SUB, [_x(n), mean], [d], A.ElementwiseAttrs(), f"{n.name}_centre")
    ctx.emit(OpKind.MUL, [d, d], [sq], A.ElementwiseAttrs(), f"{n.name}_square")
    ctx.emit(OpKind.MEAN, [sq], [var], red, f"{n.name}_var")
    ctx.emit(OpKind.ADD, [var, _scalar(ctx, n, eps)], [ve], A.ElementwiseAttrs(), f"{n.name}_eps")
    ctx.emit(OpKind.RSQRT, [ve], [inv_out], A.NoAttrs(), f"{n.name}_inv_std")


def lp_normalization(ctx: Ctx, n: OnnxNode) -> None:
    """x / ||x||_p along the axis (p 1 or 2); a zero norm gives 0, as onnx's reference."""
    p = n.i("p", 2)
    if p not in (1, 2):
        raise UnsupportedOpError(f"LpNormalization with p={p}", file=ctx.path, node=n.name)
    x = _x(n)
    axis = _axis(ctx, n, n.i("axis", -1), ctx.rank(x))
    norm, zero, ratio = (ctx.fresh(f"{n.name}_{k}") for k in ("norm", "zero", "ratio"))
    ctx.emit(OpKind.REDUCE_MATH, [x], [norm], A.ReduceMathAttrs((axis,), True, "l1" if p == 1 else "l2"),
             f"{n.name}_norm")
    z = ctx.add_const(ctx.fresh(f"{n.name}_0"), np.zeros((), np.float32))
    ctx.emit(OpKind.EQUAL, [norm, z], [zero], A.NoAttrs(), f"{n.name}_iszero", dtypes=[DType.BOOL])
    ctx.emit(OpKind.DIV, [x, norm], [ratio], A.ElementwiseAttrs(), f"{n.name}_div")
    ctx.emit(OpKind.WHERE, [zero, z, ratio], [_out(n)], A.NoAttrs(), n.name, dtypes=[ctx.t(x).dtype])


def center_crop_pad(ctx: Ctx, n: OnnxNode) -> None:
    """Centred crop (SLICE) and zero pad (PAD) to the target shape; an odd difference goes to the end."""
    x = _x(n)
    shape = ctx.shape(x)
    rank = len(shape)
    target = [int(v) for v in ctx.need_const(n.input(1), n, "shape").reshape(-1)]
    axes = [_axis(ctx, n, a, rank) for a in (n.ints("axes") or list(range(rank)))]
    if len(axes) != len(target):
        raise ModelError(f"shape {target} does not match axes {axes}", file=ctx.path, node=n.name)
    begin, end, pads = [0] * rank, list(shape), [(0, 0)] * rank
    for ax, want in zip(axes, target, strict=True):
        d = abs(shape[ax] - want)
        if want < shape[ax]:
            begin[ax], end[ax] = d // 2, d // 2 + want
        elif want > shape[ax]:
            pads[ax] = (d // 2, d - d // 2)
    cur = x
    padded = any(p != (0, 0) for p in pads)
    if begin != [0] * rank or end != list(shape):
        cur = ctx.fresh(f"{n.name}_crop") if padded else _out(n)
        ctx.emit(OpKind.SLICE, [x], [cur], A.SliceAttrs(tuple(begin), tuple(end), (1,) * rank), f"{n.name}_crop")
    if padded:
        ctx.emit(OpKind.PAD, [cur], [_out(n)], A.PadAttrs(tuple(pads), "constant", 0.0), n.name)
    elif cur == x:
        _pass_through(ctx, n)


def lp_pool(ctx: Ctx, n: OnnxNode) -> None:
    """LpPool as (sum over the window of |x|^p)^(1/p): the window sum is an average pool that counts the zero
    padding, times the window size."""
    from edgesim.frontends.onnx_ops import FLOAT_HANDLERS

    p = n.i("p", 2)
    if p <= 0:
        raise ModelError(f"LpPool p={p} must be positive", file=ctx.path, node=n.name)
    kernel = n.ints("kernel_shape") or []
    absx, powered, pooled, total = (ctx.fresh(f"{n.name}_{k}") for k in ("abs", "pow", "avg", "sum"))
    ctx.emit(OpKind.ABS, [_x(n)], [absx], A.NoAttrs(), f"{n.name}_abs")
    ctx.emit(OpKind.POW, [absx, _scalar(ctx, n, float(p))], [powered], A.NoAttrs(), f"{n.name}_pow")
    attrs = {k: v for k, v in n.attrs.items() if k != "p"} | {"count_include_pad": 1}
    FLOAT_HANDLERS["AveragePool"](ctx, OnnxNode(n.name, "AveragePool", "", (powered,), (pooled,), attrs))
    ctx.emit(OpKind.MUL, [pooled, _scalar(ctx, n, float(math.prod(kernel)))], [total], A.ElementwiseAttrs(),
             f"{n.name}_sum")
    ctx.emit(OpKind.POW, [total, _scalar(ctx, n, 1.0 / p)], [_out(n)], A.NoAttrs(), f"{n.name}_root")


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
    "CumProd": cumsum,
    "LpNormalization": lp_normalization,
    "CenterCropPad": center_crop_pad,
    "LpPool": lp_pool,
    "Trilu": trilu,
    "RMSNormalization": rms_norm,
    "InstanceNormalization": group_norm,
    "GroupNormalization": group_norm,
    "Mean": mean,
    "DepthToSpace": depth_space,
    "SpaceToDepth": depth_space,
    "Tile": tile,
    "GatherElements": gather_elements,
    "GatherND": gather_nd,
    "ScatterElements": scatter_elements,
    "ScatterND": scatter_elements,
    "TopK": topk,
    "Hardmax": hardmax,
    "OneHot": one_hot,
    "GridSample": grid_sample,
    "LayerNormalization": layer_norm,
}
