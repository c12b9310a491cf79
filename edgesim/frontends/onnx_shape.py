"""ONNX shape and data-movement ops (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
Gather, Expand, Where) to edgesim IR nodes, and the small node helpers every ONNX op module shares."""

from __future__ import annotations

import math
from collections.abc import Callable

from edgesim.errors import ModelError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind

Handler = Callable[[Ctx, OnnxNode], None]

def _x(n: OnnxNode) -> str:
    return n.inputs[0]


def _out(n: OnnxNode) -> str:
    return n.outputs[0]


def _axis(ctx: Ctx, n: OnnxNode, axis: int, rank: int) -> int:
    if rank == 0:
        return 0
    if not -rank <= axis < rank:
        raise ModelError(f"axis {axis} is out of range for rank {rank}", file=ctx.path, node=n.name)
    return axis % rank


def _axes_arg(ctx: Ctx, n: OnnxNode, input_since: int) -> list[int] | None:
    """Axes from the attribute (older opsets) or the second input (opset >= input_since)."""
    if ctx.opset >= input_since:
        ax = n.input(1)
        return None if not ax else [int(v) for v in ctx.need_const(ax, n, "axes").reshape(-1)]
    return n.ints("axes")


# ----- shape and data movement -------------------------------------------------------------------------------
def _reshape_to(ctx: Ctx, n: OnnxNode, shape: tuple[int, ...]) -> None:
    ctx.emit(OpKind.RESHAPE, [_x(n)], [_out(n)], A.ReshapeAttrs(tuple(int(d) for d in shape)), n.name)


def reshape(ctx: Ctx, n: OnnxNode) -> None:
    in_shape = ctx.shape(_x(n))
    if ctx.opset < 5:
        target = n.ints("shape") or []
    else:
        target = [int(v) for v in ctx.need_const(n.input(1), n, "shape").reshape(-1)]
    allow_zero = bool(n.i("allowzero", 0))
    new = [in_shape[i] if (d == 0 and not allow_zero and i < len(in_shape)) else d for i, d in enumerate(target)]
    if new.count(-1) == 1:
        known = math.prod(d for d in new if d != -1)
        total = math.prod(in_shape)
        if known == 0 or total % known:
            raise ModelError(f"cannot reshape {in_shape} to {target}", file=ctx.path, node=n.name)
        new[new.index(-1)] = total // known
    _reshape_to(ctx, n, tuple(new))


def flatten(ctx: Ctx, n: OnnxNode) -> None:
    shape = ctx.shape(_x(n))
    axis = n.i("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    _reshape_to(ctx, n, (math.prod(shape[:axis]), math.prod(shape[axis:])))


def squeeze(ctx: Ctx, n: OnnxNode) -> None:
    shape = ctx.shape(_x(n))
    axes = _axes_arg(ctx, n, 13)
    drop = {i for i, d in enumerate(shape) if d == 1} if not axes else {a % len(shape) for a in axes}
    _reshape_to(ctx, n, tuple(d for i, d in enumerate(shape) if i not in drop))


def unsqueeze(ctx: Ctx, n: OnnxNode) -> None:
    shape = list(ctx.shape(_x(n)))
    axes = _axes_arg(ctx, n, 13) or []
    out_rank = len(shape) + len(axes)
    for a in sorted(a % out_rank for a in axes):
        shape.insert(a, 1)
    _reshape_to(ctx, n, tuple(shape))


def transpose(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    perm = n.ints("perm") or list(range(rank - 1, -1, -1))
    ctx.emit(OpKind.TRANSPOSE, [_x(n)], [_out(n)], A.TransposeAttrs(tuple(perm)), n.name)


def concat(ctx: Ctx, n: OnnxNode) -> None:
    ins = [i for i in n.inputs if i]
    rank = ctx.rank(ins[0])
    ctx.emit(OpKind.CONCAT, ins, [_out(n)], A.ConcatAttrs(_axis(ctx, n, n.i("axis", 0), rank)), n.name)


def split(ctx: Ctx, n: OnnxNode) -> None:
    shape = ctx.shape(_x(n))
    axis = _axis(ctx, n, n.i("axis", 0), len(shape))
    dim = shape[axis]
    outs = [o for o in n.outputs]
    if ctx.opset >= 13 and n.input(1):
        sizes = [int(v) for v in ctx.need_const(n.input(1), n, "split").reshape(-1)]
    elif ctx.opset < 13 and n.ints("split"):
        sizes = n.ints("split") or []
    else:
        parts = n.i("num_outputs", len(outs))
        chunk = -(-dim // parts)
        sizes = [min(chunk, dim - k * chunk) for k in range(parts)]
    if len(sizes) != len(outs) or sum(sizes) != dim:
        raise ModelError(f"split sizes {sizes} do not cover {dim} into {len(outs)} outputs", file=ctx.path,
                         node=n.name)
    ctx.emit(OpKind.SPLIT, [_x(n)], outs, A.SplitAttrs(axis, tuple(sizes)), n.name)


def slice_(ctx: Ctx, n: OnnxNode) -> None:
    shape = ctx.shape(_x(n))
    rank = len(shape)
    if ctx.opset < 10:
        starts, ends = n.ints("starts") or [], n.ints("ends") or []
        axes = n.ints("axes") or list(range(len(starts)))
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in ctx.need_const(n.input(1), n, "starts").reshape(-1)]
        ends = [int(v) for v in ctx.need_const(n.input(2), n, "ends").reshape(-1)]
        axes = ([int(v) for v in ctx.need_const(n.input(3), n, "axes").reshape(-1)] if n.input(3)
                else list(range(len(starts))))
        steps = ([int(v) for v in ctx.need_const(n.input(4), n, "steps").reshape(-1)] if n.input(4)
                 else [1] * len(starts))
    begin, end, step = [0] * rank, list(shape), [1] * rank
    for s, e, a, st in zip(starts, ends, axes, steps, strict=False):
        ax = _axis(ctx, n, a, rank)
        d = shape[ax]
        if st == 0:
            raise ModelError("slice step 0", file=ctx.path, node=n.name)
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
            if e == -1:
                e = -(d + 1)  # python-slice spelling of "through index 0" for a negative step
        begin[ax], end[ax], step[ax] = s, e, st
    ctx.emit(OpKind.SLICE, [_x(n)], [_out(n)], A.SliceAttrs(tuple(begin), tuple(end), tuple(step)), n.name)


def gather(ctx: Ctx, n: OnnxNode) -> None:
    rank = ctx.rank(_x(n))
    ctx.emit(OpKind.GATHER, [_x(n), n.input(1)], [_out(n)], A.GatherAttrs(_axis(ctx, n, n.i("axis", 0), rank)),
             n.name)


def expand(ctx: Ctx, n: OnnxNode) -> None:
    shape = tuple(int(v) for v in ctx.need_const(n.input(1), n, "shape").reshape(-1))
    ctx.emit(OpKind.EXPAND, [_x(n)], [_out(n)], A.ExpandAttrs(shape), n.name)


def where(ctx: Ctx, n: OnnxNode) -> None:
    ctx.emit(OpKind.WHERE, list(n.inputs[:3]), [_out(n)], A.NoAttrs(), n.name,
             dtypes=[ctx.t(n.input(1)).dtype])


SHAPE_HANDLERS: dict[str, Handler] = {
    "Reshape": reshape,
    "Flatten": flatten,
    "Squeeze": squeeze,
    "Unsqueeze": unsqueeze,
    "Transpose": transpose,
    "Concat": concat,
    "Split": split,
    "Slice": slice_,
    "Gather": gather,
    "Expand": expand,
    "Where": where,
}
