"""Per-builtin mapping of TFLite operators to IR nodes (one small typed function per builtin).

Handlers see an ``OpCtx`` (the operator, its tensors, and a way to make intermediate tensors) and return the IR
nodes to emit as ``Emit`` records. Constant operands that only parametrise the op (shapes, axes, perms, pads,
slice bounds, split sizes, resize sizes) are folded into the typed attrs and dropped from the node inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tflite
from tflite.ActivationFunctionType import ActivationFunctionType as AF
from tflite.BuiltinOperator import BuiltinOperator as BO

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor


@dataclass(frozen=True)
class Emit:
    op: OpKind
    attrs: Any
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


class OpCtx:
    """What a handler may read about one TFLite operator."""

    def __init__(self, op: Any, op_name: str, inputs: list[str], outputs: list[str],
                 tensors: dict[str, Tensor], new_tensor: Callable[[str, Tensor], str]) -> None:
        self.op = op
        self.op_name = op_name  # builtin name, for messages
        self.inputs = inputs  # "" for omitted optional operands
        self.outputs = outputs
        self.tensors = tensors
        self._new_tensor = new_tensor

    def options(self, cls: type) -> Any:
        """The builtin options table as ``cls``, or None when the file omits it (all defaults)."""
        table = self.op.BuiltinOptions()
        if table is None:
            return None
        o = cls()
        o.Init(table.Bytes, table.Pos)
        return o

    def t(self, i: int) -> Tensor:
        if i >= len(self.inputs) or not self.inputs[i]:
            raise self.error(f"{self.op_name} needs input {i}")
        return self.tensors[self.inputs[i]]

    def out(self, i: int = 0) -> Tensor:
        if i >= len(self.outputs):
            raise self.error(f"{self.op_name} needs output {i}")
        return self.tensors[self.outputs[i]]

    def const(self, i: int, what: str) -> np.ndarray:
        t = self.t(i)
        if t.data is None:
            raise UnsupportedOpError(f"{self.op_name} with a non-constant {what} operand is not supported",
                                     node=self.outputs[0] if self.outputs else None)
        return t.data

    def const_ints(self, i: int, what: str) -> tuple[int, ...]:
        return tuple(int(v) for v in np.asarray(self.const(i, what)).reshape(-1))

    def new_tensor(self, base: str, like: Tensor) -> str:
        return self._new_tensor(base, like)

    def error(self, message: str) -> ModelError:
        return ModelError(message, node=self.outputs[0] if self.outputs else None)

    def one(self, op: OpKind, attrs: Any, inputs: tuple[str, ...] | None = None) -> list[Emit]:
        ins = tuple(self.inputs) if inputs is None else inputs
        return [Emit(op, attrs, ins, tuple(self.outputs))]


Handler = Callable[[OpCtx], list[Emit]]

_ACT = {
    AF.NONE: A.Activation.NONE,
    AF.RELU: A.Activation.RELU,
    AF.RELU_N1_TO_1: A.Activation.RELU_N1_TO_1,
    AF.RELU6: A.Activation.RELU6,
    AF.TANH: A.Activation.TANH,
}


def _act(ctx: OpCtx, opts: Any) -> A.Activation:
    if opts is None:
        return A.Activation.NONE
    code = opts.FusedActivationFunction()
    if code not in _ACT:
        raise UnsupportedOpError(f"{ctx.op_name} with fused activation code {code} is not supported",
                                 node=ctx.outputs[0])
    return _ACT[code]


def same_padding(in_size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite's SAME padding: output = ceil(in / stride), extra pad goes after (bottom/right)."""
    out = (in_size + stride - 1) // stride
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - in_size, 0)
    return total // 2, total - total // 2


def _padding(ctx: OpCtx, code: int, in_hw: tuple[int, int], k_hw: tuple[int, int], s_hw: tuple[int, int],
             d_hw: tuple[int, int]) -> A.Padding:
    if code == tflite.Padding.VALID:
        return A.Padding()
    if code != tflite.Padding.SAME:
        raise ctx.error(f"{ctx.op_name} has unknown padding code {code}")
    top, bottom = same_padding(in_hw[0], k_hw[0], s_hw[0], d_hw[0])
    left, right = same_padding(in_hw[1], k_hw[1], s_hw[1], d_hw[1])
    return A.Padding(top=top, left=left, bottom=bottom, right=right)


def _positive(ctx: OpCtx, *values: int) -> tuple[int, ...]:
    if any(v <= 0 for v in values):
        raise ctx.error(f"{ctx.op_name} has non-positive stride/dilation/filter {values}")
    return values


def _nhwc(ctx: OpCtx, t: Tensor) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise ctx.error(f"{ctx.op_name} expects a 4-D NHWC input, got shape {t.shape}")
    n, h, w, c = t.shape
    return n, h, w, c


# ----- MAC ops ----------------------------------------------------------------------------------------------
def _conv2d(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.Conv2DOptions)
    x, w = ctx.t(0), ctx.t(1)
    _, h, wd, cin = _nhwc(ctx, x)
    if len(w.shape) != 4 or w.shape[3] <= 0 or cin % w.shape[3]:
        raise ctx.error(f"CONV_2D weights {w.shape} do not fit input channels {cin}")
    s = _positive(ctx, o.StrideH(), o.StrideW()) if o else (1, 1)
    d = _positive(ctx, o.DilationHFactor(), o.DilationWFactor()) if o else (1, 1)
    k = (w.shape[1], w.shape[2])
    pad = _padding(ctx, o.Padding() if o else 0, (h, wd), k, (s[0], s[1]), (d[0], d[1]))
    attrs = A.ConvAttrs(kernel_hw=k, stride_hw=(s[0], s[1]), dilation_hw=(d[0], d[1]), padding=pad,
                        groups=cin // w.shape[3], layout=A.Layout.NHWC, activation=_act(ctx, o))
    return ctx.one(OpKind.CONV2D, attrs)


def _depthwise(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.DepthwiseConv2DOptions)
    x, w = ctx.t(0), ctx.t(1)
    _, h, wd, cin = _nhwc(ctx, x)
    if len(w.shape) != 4 or w.shape[0] != 1 or cin <= 0 or w.shape[3] % cin:
        raise ctx.error(f"DEPTHWISE_CONV_2D weights {w.shape} do not fit input channels {cin}")
    s = _positive(ctx, o.StrideH(), o.StrideW()) if o else (1, 1)
    d = _positive(ctx, o.DilationHFactor(), o.DilationWFactor()) if o else (1, 1)
    k = (w.shape[1], w.shape[2])
    pad = _padding(ctx, o.Padding() if o else 0, (h, wd), k, (s[0], s[1]), (d[0], d[1]))
    # depth_multiplier is implied by the weights (1, kh, kw, Cin*M); the option is often stale in old files.
    attrs = A.ConvAttrs(kernel_hw=k, stride_hw=(s[0], s[1]), dilation_hw=(d[0], d[1]), padding=pad,
                        groups=cin, layout=A.Layout.NHWC, activation=_act(ctx, o))
    return ctx.one(OpKind.DEPTHWISE_CONV2D, attrs)


def _transpose_conv(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.TransposeConvOptions)
    out_shape = ctx.const_ints(0, "output_shape")
    w, x = ctx.t(1), ctx.t(2)
    _, h, wd, _ = _nhwc(ctx, x)
    if len(w.shape) != 4 or len(out_shape) != 4:
        raise ctx.error(f"TRANSPOSE_CONV weights {w.shape} / output shape {out_shape} are not 4-D")
    s = _positive(ctx, o.StrideH(), o.StrideW()) if o else (1, 1)
    k = (w.shape[1], w.shape[2])
    pads: list[tuple[int, int]] = []
    extra: list[int] = []
    for in_size, out_size, kk, ss in ((h, out_shape[1], k[0], s[0]), (wd, out_shape[2], k[1], s[1])):
        total = max((in_size - 1) * ss + kk - out_size, 0) if (o is None or o.Padding() == 0) else 0
        before = total // 2
        pads.append((before, total - before))
        extra.append(out_size - ((in_size - 1) * ss - total + kk))
    if min(extra) < 0:
        raise ctx.error(f"TRANSPOSE_CONV output shape {out_shape} is too small for its input")
    attrs = A.ConvAttrs(kernel_hw=k, stride_hw=(s[0], s[1]),
                        padding=A.Padding(pads[0][0], pads[1][0], pads[0][1], pads[1][1]),
                        layout=A.Layout.NHWC, activation=_act(ctx, o), output_padding_hw=(extra[0], extra[1]))
    bias = ctx.inputs[3] if len(ctx.inputs) > 3 else ""
    ins = (ctx.inputs[2], ctx.inputs[1]) + ((bias,) if bias else ())
    return ctx.one(OpKind.CONV_TRANSPOSE2D, attrs, ins)


def _fully_connected(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.FullyConnectedOptions)
    if o is not None and o.WeightsFormat() != 0:
        raise UnsupportedOpError("FULLY_CONNECTED with shuffled weights is not supported", node=ctx.outputs[0])
    attrs = A.FullyConnectedAttrs(activation=_act(ctx, o), keep_num_dims=bool(o.KeepNumDims()) if o else False)
    return ctx.one(OpKind.FULLY_CONNECTED, attrs)


def _batch_matmul(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.BatchMatMulOptions)
    attrs = A.MatMulAttrs(transpose_a=bool(o.AdjX()) if o else False, transpose_b=bool(o.AdjY()) if o else False)
    return ctx.one(OpKind.MATMUL, attrs, tuple(ctx.inputs[:2]))


# ----- elementwise and activations --------------------------------------------------------------------------
def _binary(kind: OpKind, opts_cls: type | None) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        act = _act(ctx, ctx.options(opts_cls)) if opts_cls is not None else A.Activation.NONE
        return ctx.one(kind, A.ElementwiseAttrs(activation=act))

    return handler


def _plain(kind: OpKind) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        return ctx.one(kind, A.NoAttrs())

    return handler


def _clip(lo: float, hi: float) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        return ctx.one(OpKind.CLIP, A.ClipAttrs(min_value=lo, max_value=hi), (ctx.inputs[0],))

    return handler


def _leaky_relu(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.LeakyReluOptions)
    return ctx.one(OpKind.LEAKY_RELU, A.LeakyReluAttrs(alpha=float(o.Alpha()) if o else 0.0))


def _quant(kind: OpKind) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        return ctx.one(kind, A.QuantizeAttrs())

    return handler


def _cast(ctx: OpCtx) -> list[Emit]:
    return ctx.one(OpKind.CAST, A.CastAttrs(to=ctx.out().dtype.label))


# ----- pooling, reductions, softmax -------------------------------------------------------------------------
def _pool(kind: OpKind) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        o = ctx.options(tflite.Pool2DOptions)
        if o is None:
            raise ctx.error(f"{ctx.op_name} has no Pool2DOptions")
        _, h, w, _ = _nhwc(ctx, ctx.t(0))
        k = _positive(ctx, o.FilterHeight(), o.FilterWidth())
        s = _positive(ctx, o.StrideH(), o.StrideW())
        pad = _padding(ctx, o.Padding(), (h, w), (k[0], k[1]), (s[0], s[1]), (1, 1))
        attrs = A.PoolAttrs(kernel_hw=(k[0], k[1]), stride_hw=(s[0], s[1]), padding=pad, layout=A.Layout.NHWC,
                            activation=_act(ctx, o), count_include_pad=False)
        return ctx.one(kind, attrs, (ctx.inputs[0],))

    return handler


def _axes(ctx: OpCtx, i: int, rank: int) -> tuple[int, ...]:
    axes = ctx.const_ints(i, "axis")
    if any(not -max(rank, 1) <= a < max(rank, 1) for a in axes):
        raise ctx.error(f"{ctx.op_name} axes {axes} out of range for rank {rank}")
    return tuple(sorted({a % max(rank, 1) for a in axes}))


def _reduce(kind: OpKind) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        o = ctx.options(tflite.ReducerOptions)
        axes = _axes(ctx, 1, len(ctx.t(0).shape))
        attrs = A.ReduceAttrs(axes=axes, keepdims=bool(o.KeepDims()) if o else False)
        return ctx.one(kind, attrs, (ctx.inputs[0],))

    return handler


def _softmax(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.SoftmaxOptions)
    return ctx.one(OpKind.SOFTMAX, A.SoftmaxAttrs(axis=-1, beta=float(o.Beta()) if o else 1.0))


# ----- data movement ----------------------------------------------------------------------------------------
def _reshape(ctx: OpCtx) -> list[Emit]:
    new: tuple[int, ...] | None = None
    if len(ctx.inputs) > 1 and ctx.inputs[1] and ctx.t(1).data is not None:
        new = ctx.const_ints(1, "shape")
    else:
        o = ctx.options(tflite.ReshapeOptions)
        if o is not None and not o.NewShapeIsNone():
            new = tuple(int(v) for v in o.NewShapeAsNumpy())
    x_elems = ctx.t(0).num_elements
    if new is None or new.count(-1) > 1 or any(d < -1 for d in new):
        new = ctx.out().shape
    # Keep a -1 (batch-agnostic target) only where it resolves to the declared output; else trust the output.
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1]))
        if known <= 0 or x_elems % known:
            new = ctx.out().shape
    return ctx.one(OpKind.RESHAPE, A.ReshapeAttrs(new_shape=tuple(new)), (ctx.inputs[0],))


def _squeeze(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.SqueezeOptions)
    shape = ctx.t(0).shape
    dims = tuple(int(d) for d in o.SqueezeDimsAsNumpy()) if o is not None and o.SqueezeDimsLength() else ()
    if any(not -len(shape) <= d < len(shape) for d in dims):
        raise ctx.error(f"SQUEEZE dims {dims} out of range for input {shape}")
    drop = {d % len(shape) for d in dims} if dims else {i for i, d in enumerate(shape) if d == 1}
    new = tuple(d for i, d in enumerate(shape) if i not in drop)
    return ctx.one(OpKind.RESHAPE, A.ReshapeAttrs(new_shape=new), (ctx.inputs[0],))


def _expand_dims(ctx: OpCtx) -> list[Emit]:
    shape = ctx.t(0).shape
    axis = ctx.const_ints(1, "axis")
    if len(axis) != 1 or not -len(shape) - 1 <= axis[0] <= len(shape):
        raise ctx.error(f"EXPAND_DIMS axis {axis} out of range for input {shape}")
    a = axis[0] % (len(shape) + 1)
    new = shape[:a] + (1,) + shape[a:]
    return ctx.one(OpKind.RESHAPE, A.ReshapeAttrs(new_shape=new), (ctx.inputs[0],))


def _concat(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.ConcatenationOptions)
    rank = len(ctx.t(0).shape)
    axis = int(o.Axis()) if o else 0
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise ctx.error(f"CONCATENATION axis {axis} out of range for rank {rank}")
    return ctx.one(OpKind.CONCAT, A.ConcatAttrs(axis=axis % max(rank, 1), activation=_act(ctx, o)))


def _pad(ctx: OpCtx) -> list[Emit]:
    x = ctx.t(0)
    pads = np.asarray(ctx.const(1, "paddings")).astype(np.int64)
    if pads.shape != (len(x.shape), 2) or (pads < 0).any():
        raise ctx.error(f"{ctx.op_name} paddings of shape {pads.shape} do not fit input {x.shape}")
    value = 0.0  # constant_value is a real value: TFLite's PAD fills quantized tensors with real 0
    if len(ctx.inputs) > 2 and ctx.inputs[2]:
        c = ctx.t(2)
        raw = float(np.asarray(ctx.const(2, "constant_values")).reshape(-1)[0])
        value = c.quant.scale * (raw - c.quant.zero_point) if c.quant is not None else raw
    attrs = A.PadAttrs(pads=tuple((int(a), int(b)) for a, b in pads), mode="constant", constant_value=value)
    return ctx.one(OpKind.PAD, attrs, (ctx.inputs[0],))


def _mirror_pad(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.MirrorPadOptions)
    if o is not None and o.Mode() != tflite.MirrorPadMode.REFLECT:
        raise UnsupportedOpError("MIRROR_PAD in SYMMETRIC mode is not supported", node=ctx.outputs[0])
    emits = _pad(ctx)
    e = emits[0]
    return [Emit(e.op, A.PadAttrs(pads=e.attrs.pads, mode="reflect"), e.inputs, e.outputs)]


def _transpose(ctx: OpCtx) -> list[Emit]:
    perm = ctx.const_ints(1, "perm")
    if sorted(perm) != list(range(len(ctx.t(0).shape))):
        raise ctx.error(f"TRANSPOSE perm {perm} does not fit input {ctx.t(0).shape}")
    return ctx.one(OpKind.TRANSPOSE, A.TransposeAttrs(perm=perm), (ctx.inputs[0],))


def _resolve_slice(ctx: OpCtx, dim: int, b: int | None, e: int | None, s: int) -> tuple[int, int, int]:
    if s == 0:
        raise ctx.error(f"{ctx.op_name} has a zero stride")
    rb, re_, rs = slice(b, e, s).indices(dim)
    if re_ < 0:
        # A negative-stride slice that runs through index 0: the IR slice cannot express an end before 0.
        raise UnsupportedOpError(f"{ctx.op_name} with a negative stride to the start is not supported",
                                 node=ctx.outputs[0])
    return rb, re_, rs


def _slice_then_reshape(ctx: OpCtx, attrs: A.SliceAttrs, sliced: tuple[int, ...],
                        final: tuple[int, ...]) -> list[Emit]:
    """The IR slice keeps the rank; shrunk and new axes become a RESHAPE after it."""
    if sliced == final:
        return ctx.one(OpKind.SLICE, attrs, (ctx.inputs[0],))
    mid = ctx.new_tensor(ctx.outputs[0] + "/slice", ctx.out().with_shape(sliced))
    return [Emit(OpKind.SLICE, attrs, (ctx.inputs[0],), (mid,)),
            Emit(OpKind.RESHAPE, A.ReshapeAttrs(new_shape=final), (mid,), (ctx.outputs[0],))]


def _strided_slice(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.StridedSliceOptions)
    shape = ctx.t(0).shape
    begin, end = ctx.const_ints(1, "begin"), ctx.const_ints(2, "end")
    strides = ctx.const_ints(3, "strides") if len(ctx.inputs) > 3 and ctx.inputs[3] else (1,) * len(begin)
    if not len(begin) == len(end) == len(strides):
        raise ctx.error("STRIDED_SLICE begin/end/strides differ in length")
    bm, em = (o.BeginMask(), o.EndMask()) if o else (0, 0)
    ellipsis, new_axis, shrink = (o.EllipsisMask(), o.NewAxisMask(), o.ShrinkAxisMask()) if o else (0, 0, 0)
    offset = bool(o.Offset()) if o else False
    n_spec = len(begin)
    # Expand the spec over the input axes: new axes consume no input axis, an ellipsis covers the rest.
    consumed = sum(1 for i in range(n_spec) if not (new_axis >> i) & 1 and not (ellipsis >> i) & 1)
    rb: list[int] = []
    re_: list[int] = []
    rs: list[int] = []
    final: list[int] = []  # output shape: shrunk axes dropped, new axes inserted
    axis = 0
    for i in range(n_spec):
        if (ellipsis >> i) & 1:
            for _ in range(len(shape) - consumed):
                if axis >= len(shape):
                    break
                rb.append(0)
                re_.append(shape[axis])
                rs.append(1)
                final.append(shape[axis])
                axis += 1
            continue
        if (new_axis >> i) & 1:
            final.append(1)
            continue
        if axis >= len(shape):
            raise ctx.error(f"STRIDED_SLICE spec has more axes than input {shape}")
        dim = shape[axis]
        if (shrink >> i) & 1:
            idx = begin[i] + dim if begin[i] < 0 else begin[i]
            if not 0 <= idx < dim:
                raise ctx.error(f"STRIDED_SLICE index {begin[i]} out of range for axis {axis} of {shape}")
            rb.append(idx)
            re_.append(idx + 1)
            rs.append(1)
        else:
            b: int | None = None if (bm >> i) & 1 else begin[i]
            e: int | None = None if (em >> i) & 1 else (begin[i] + end[i] if offset else end[i])
            x, y, z = _resolve_slice(ctx, dim, b, e, strides[i])
            rb.append(x)
            re_.append(y)
            rs.append(z)
            final.append(len(range(x, y, z)))
        axis += 1
    for d in shape[axis:]:
        rb.append(0)
        re_.append(d)
        rs.append(1)
        final.append(d)
    sliced = tuple(len(range(b, e, s)) for b, e, s in zip(rb, re_, rs, strict=True))
    return _slice_then_reshape(ctx, A.SliceAttrs(tuple(rb), tuple(re_), tuple(rs)), sliced, tuple(final))


def _slice(ctx: OpCtx) -> list[Emit]:
    shape = ctx.t(0).shape
    begin, size = ctx.const_ints(1, "begin"), ctx.const_ints(2, "size")
    if not len(begin) == len(size) == len(shape):
        raise ctx.error(f"SLICE begin {begin} / size {size} do not fit input {shape}")
    ends = tuple(d if s == -1 else b + s for b, s, d in zip(begin, size, shape, strict=True))
    if any(not 0 <= b <= e <= d for b, e, d in zip(begin, ends, shape, strict=True)):
        raise ctx.error(f"SLICE begin {begin} / size {size} out of range for input {shape}")
    attrs = A.SliceAttrs(begin=begin, end=ends, step=(1,) * len(shape))
    return ctx.one(OpKind.SLICE, attrs, (ctx.inputs[0],))


def _split(ctx: OpCtx) -> list[Emit]:
    x = ctx.t(1)
    axis = _axes(ctx, 0, len(x.shape))[0]
    n = len(ctx.outputs)
    if n == 0 or x.shape[axis] % n:
        raise ctx.error(f"SPLIT of axis {axis} ({x.shape}) into {n} equal parts is not possible")
    return ctx.one(OpKind.SPLIT, A.SplitAttrs(axis=axis, sizes=(x.shape[axis] // n,) * n), (ctx.inputs[1],))


def _split_v(ctx: OpCtx) -> list[Emit]:
    x = ctx.t(0)
    axis = _axes(ctx, 2, len(x.shape))[0]
    sizes = list(ctx.const_ints(1, "size_splits"))
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    if len(sizes) != len(ctx.outputs) or sum(sizes) != x.shape[axis] or min(sizes, default=-1) < 0:
        raise ctx.error(f"SPLIT_V sizes {sizes} do not cover axis {axis} of {x.shape}")
    return ctx.one(OpKind.SPLIT, A.SplitAttrs(axis=axis, sizes=tuple(sizes)), (ctx.inputs[0],))


def _resize(mode: str, opts_cls: type) -> Handler:
    def handler(ctx: OpCtx) -> list[Emit]:
        o = ctx.options(opts_cls)
        size = ctx.const_ints(1, "size")
        if len(size) != 2 or min(size) <= 0:
            raise ctx.error(f"{ctx.op_name} size {size} is not a positive (height, width)")
        attrs = A.ResizeAttrs(out_hw=(size[0], size[1]), mode=mode, layout=A.Layout.NHWC,
                              align_corners=bool(o.AlignCorners()) if o else False,
                              half_pixel_centers=bool(o.HalfPixelCenters()) if o else False)
        return ctx.one(OpKind.RESIZE, attrs, (ctx.inputs[0],))

    return handler


def _gather(ctx: OpCtx) -> list[Emit]:
    o = ctx.options(tflite.GatherOptions)
    if o is not None and o.BatchDims() != 0:
        raise UnsupportedOpError("GATHER with batch_dims is not supported", node=ctx.outputs[0])
    rank = len(ctx.t(0).shape)
    axis = int(o.Axis()) if o else 0
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise ctx.error(f"GATHER axis {axis} out of range for rank {rank}")
    return ctx.one(OpKind.GATHER, A.GatherAttrs(axis=axis % max(rank, 1)), tuple(ctx.inputs[:2]))


HANDLERS: dict[int, Handler] = {
    BO.CONV_2D: _conv2d,
    BO.DEPTHWISE_CONV_2D: _depthwise,
    BO.TRANSPOSE_CONV: _transpose_conv,
    BO.FULLY_CONNECTED: _fully_connected,
    BO.BATCH_MATMUL: _batch_matmul,
    BO.ADD: _binary(OpKind.ADD, tflite.AddOptions),
    BO.SUB: _binary(OpKind.SUB, tflite.SubOptions),
    BO.MUL: _binary(OpKind.MUL, tflite.MulOptions),
    BO.DIV: _binary(OpKind.DIV, tflite.DivOptions),
    BO.MAXIMUM: _plain(OpKind.MAXIMUM),
    BO.MINIMUM: _plain(OpKind.MINIMUM),
    BO.SQUARED_DIFFERENCE: _plain(OpKind.SQUARED_DIFFERENCE),
    BO.PRELU: _plain(OpKind.PRELU),
    BO.RELU: _plain(OpKind.RELU),
    BO.RELU6: _clip(0.0, 6.0),
    BO.RELU_N1_TO_1: _clip(-1.0, 1.0),
    BO.LEAKY_RELU: _leaky_relu,
    BO.LOGISTIC: _plain(OpKind.SIGMOID),
    BO.TANH: _plain(OpKind.TANH),
    BO.HARD_SWISH: _plain(OpKind.HARD_SWISH),
    BO.EXP: _plain(OpKind.EXP),
    BO.LOG: _plain(OpKind.LOG),
    BO.SQRT: _plain(OpKind.SQRT),
    BO.RSQRT: _plain(OpKind.RSQRT),
    BO.ABS: _plain(OpKind.ABS),
    BO.NEG: _plain(OpKind.NEG),
    BO.CAST: _cast,
    BO.QUANTIZE: _quant(OpKind.QUANTIZE),
    BO.DEQUANTIZE: _quant(OpKind.DEQUANTIZE),
    BO.AVERAGE_POOL_2D: _pool(OpKind.AVG_POOL2D),
    BO.MAX_POOL_2D: _pool(OpKind.MAX_POOL2D),
    BO.MEAN: _reduce(OpKind.MEAN),
    BO.SUM: _reduce(OpKind.REDUCE_SUM),
    BO.REDUCE_MAX: _reduce(OpKind.REDUCE_MAX),
    BO.SOFTMAX: _softmax,
    BO.RESHAPE: _reshape,
    BO.SQUEEZE: _squeeze,
    BO.EXPAND_DIMS: _expand_dims,
    BO.CONCATENATION: _concat,
    BO.PAD: _pad,
    BO.PADV2: _pad,
    BO.MIRROR_PAD: _mirror_pad,
    BO.TRANSPOSE: _transpose,
    BO.STRIDED_SLICE: _strided_slice,
    BO.SLICE: _slice,
    BO.SPLIT: _split,
    BO.SPLIT_V: _split_v,
    BO.RESIZE_BILINEAR: _resize("linear", tflite.ResizeBilinearOptions),
    BO.RESIZE_NEAREST_NEIGHBOR: _resize("nearest", tflite.ResizeNearestNeighborOptions),
    BO.GATHER: _gather,
}
