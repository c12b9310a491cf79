"""Quantization whose scale and zero point are computed at run time, as the plain arithmetic ONNX defines.

DynamicQuantizeLinear with its scale or zero point leaving the graph, and QuantizeLinear with a run-time (per-
tensor) scale or zero point, cannot become a quantized tensor (QuantParams are fixed at import). They are imported
as the float ops of their definition (min/max reductions, divide, round-half-even, clip, cast), which is both
exact and the work a runtime does for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind

# zero-point types whose range the IR type states (uint16 zero points are held as int32: ambiguous, refused)
_INTEGER_CODES = frozenset({DType.INT2, DType.UINT2, DType.INT4, DType.UINT4, DType.INT8, DType.UINT8, DType.INT16})


class Emit:
    def __init__(self, ctx: Ctx, n: OnnxNode) -> None:
        self.ctx, self.n, self.k = ctx, n, 0

    def const(self, value: float) -> str:
        return self.ctx.add_const(self.ctx.fresh(f"{self.n.name}_c"), np.array(value, np.float32))

    def op(self, op: OpKind, ins: Sequence[str], attrs: object, out: str = "", dtype: DType = DType.FP32) -> str:
        self.k += 1
        out = out or self.ctx.fresh(f"{self.n.name}_t{self.k}")
        self.ctx.emit(op, list(ins), [out], attrs, f"{self.n.name}_{self.k}", dtypes=[dtype])
        return out


def quantize_values(em: Emit, x: str, scale: str, zp_real: str | None, dtype: DType, out: str) -> None:
    """out = saturate(round_half_even(x / scale) + zero_point), an integer tensor of ``dtype``."""
    lo, hi = (0, (1 << dtype.bits) - 1) if dtype in (DType.UINT8, DType.UINT4, DType.UINT2) else \
        (-(1 << (dtype.bits - 1)), (1 << (dtype.bits - 1)) - 1)
    r = em.op(OpKind.UNARY_MATH, [em.op(OpKind.DIV, [x, scale], A.ElementwiseAttrs())], A.MathAttrs("round"))
    if zp_real:
        r = em.op(OpKind.ADD, [r, zp_real], A.ElementwiseAttrs())
    c = em.op(OpKind.CLIP, [r], A.ClipAttrs(float(lo), float(hi)))
    em.op(OpKind.CAST, [c], A.CastAttrs(dtype.label), out, dtype)


def dynamic_quantize_exact(ctx: Ctx, n: OnnxNode) -> None:
    """ONNX DynamicQuantizeLinear (uint8): the range [min(x, 0), max(x, 0)] onto 0..255."""
    em = Emit(ctx, n)
    x = n.inputs[0]
    axes = tuple(range(len(ctx.shape(x))))
    zero = em.const(0.0)
    hi = em.op(OpKind.MAXIMUM, [em.op(OpKind.REDUCE_MAX, [x], A.ReduceAttrs(axes, False)), zero], A.NoAttrs())
    lo = em.op(OpKind.MINIMUM, [em.op(OpKind.REDUCE_MATH, [x], A.ReduceMathAttrs(axes, False, "min")), zero],
               A.NoAttrs())
    span = em.op(OpKind.SUB, [hi, lo], A.ElementwiseAttrs())
    flat = em.op(OpKind.EQUAL, [span, zero], A.NoAttrs(), dtype=DType.BOOL)  # all-zero input: span 1
    span = em.op(OpKind.WHERE, [flat, em.const(1.0), span], A.NoAttrs())
    outs = list(n.outputs) + ["", ""]
    scale = em.op(OpKind.DIV, [span, em.const(255.0)], A.ElementwiseAttrs(), outs[1])
    zp = em.op(OpKind.UNARY_MATH, [em.op(OpKind.CLIP, [em.op(OpKind.SUB, [zero, em.op(
        OpKind.DIV, [lo, scale], A.ElementwiseAttrs())], A.ElementwiseAttrs())], A.ClipAttrs(0.0, 255.0))],
        A.MathAttrs("round"))
    if outs[2]:
        em.op(OpKind.CAST, [zp], A.CastAttrs(DType.UINT8.label), outs[2], DType.UINT8)
    if outs[0]:
        quantize_values(em, x, scale, zp, DType.UINT8, outs[0])


def quantize_runtime(ctx: Ctx, n: OnnxNode, dtype: DType) -> None:
    """QuantizeLinear whose per-tensor scale or zero point is computed at run time."""
    scale, zp = n.input(1), n.input(2)
    if ctx.t(scale, n).num_elements != 1 or (zp and ctx.t(zp, n).num_elements != 1):
        ctx.need_const(scale, n, "scale")  # per-axis parameters must be known at import: say which one
        ctx.need_const(zp, n, "zero point")
    if dtype not in _INTEGER_CODES or n.i("block_size", 0):
        raise UnsupportedOpError(f"{n.op_type} to {dtype.label} with a run-time scale", file=ctx.path, node=n.name)
    em = Emit(ctx, n)
    zp_real = em.op(OpKind.CAST, [zp], A.CastAttrs(DType.FP32.label)) if zp else None
    quantize_values(em, n.inputs[0], scale, zp_real, dtype, n.outputs[0])


def _blocks(ctx: Ctx, n: OnnxNode, x_shape: tuple[int, ...], p_shape: tuple[int, ...]) -> tuple[
        tuple[int, ...], tuple[int, ...]]:
    """Blocked quantization: parameters have x's shape with the ``axis`` dimension divided by ``block_size``.
    Returns x's shape with that axis split into (blocks, block) and the parameters' shape broadcast against it."""
    rank, block = len(x_shape), n.i("block_size", 0)
    axis = n.i("axis", 1) % max(rank, 1)
    want = tuple(-(-d // block) if i == axis else d for i, d in enumerate(x_shape))
    if p_shape != want:
        raise ModelError(f"blocked scale shape {p_shape} does not fit input {x_shape} with block_size {block} on "
                         f"axis {axis} (expected {want})", file=ctx.path, node=n.name)
    if x_shape[axis] % block:
        raise UnsupportedOpError(f"{n.op_type} with a partial last block ({x_shape[axis]} not a multiple of "
                                 f"block_size {block})", file=ctx.path, node=n.name)
    split = x_shape[:axis] + (x_shape[axis] // block, block) + x_shape[axis + 1:]
    return split, x_shape[:axis] + (x_shape[axis] // block, 1) + x_shape[axis + 1:]


def _param(em: Emit, raw: str, what: str, shape: tuple[int, ...]) -> str:
    value = np.asarray(em.ctx.need_const(raw, em.n, what)).astype(np.float32).reshape(shape)
    return em.ctx.add_const(em.ctx.fresh(f"{em.n.name}_{what.replace(' ', '_')}"), value)


def blocked_dequantize(ctx: Ctx, n: OnnxNode) -> None:
    """DequantizeLinear with block_size: (x - zero_point) * scale, each parameter shared by ``block_size``
    consecutive elements along ``axis`` (x is viewed with that axis split into blocks, the parameters broadcast)."""
    em = Emit(ctx, n)
    x = n.inputs[0]
    shape = ctx.shape(x)
    split, p_shape = _blocks(ctx, n, shape, ctx.shape(n.input(1)))
    # widen first: a constant (weight) x is then read, at its own width, by a costed op
    v = em.op(OpKind.RESHAPE, [em.op(OpKind.CAST, [x], A.CastAttrs(DType.FP32.label))], A.ReshapeAttrs(split))
    if n.input(2):
        v = em.op(OpKind.SUB, [v, _param(em, n.input(2), "zero point", p_shape)], A.ElementwiseAttrs())
    v = em.op(OpKind.MUL, [v, _param(em, n.input(1), "scale", p_shape)], A.ElementwiseAttrs())
    em.op(OpKind.RESHAPE, [v], A.ReshapeAttrs(shape), n.outputs[0])


def blocked_quantize(ctx: Ctx, n: OnnxNode, dtype: DType) -> None:
    """QuantizeLinear with block_size: saturate(round(x / scale) + zero_point) per block (see blocked_dequantize)."""
    if dtype not in _INTEGER_CODES:
        raise UnsupportedOpError(f"blocked {n.op_type} to {dtype.label}", file=ctx.path, node=n.name)
    em = Emit(ctx, n)
    x = n.inputs[0]
    shape = ctx.shape(x)
    split, p_shape = _blocks(ctx, n, shape, ctx.shape(n.input(1)))
    xs = em.op(OpKind.RESHAPE, [x], A.ReshapeAttrs(split))
    zp = _param(em, n.input(2), "zero point", p_shape) if n.input(2) else None
    q = ctx.fresh(f"{n.name}_q")
    quantize_values(em, xs, _param(em, n.input(1), "scale", p_shape), zp, dtype, q)
    em.op(OpKind.RESHAPE, [q], A.ReshapeAttrs(shape), n.outputs[0], dtype)
