"""3-D MaxPool / AveragePool (NCDHW) as two 2-D pools: over (H, W), then over D.

Both are separable: the max over a box is the max over depth of the per-slice maxima, and the average over a box
is the average over depth of the per-slice averages, because the elements a window counts (inside the input, or
inside the padded input with count_include_pad) form a box, so the divisor is a product of per-axis counts. The
values are exact; the modelled work is that of the two passes (kh*kw + kd operations per output, as a separable
implementation does), not kd*kh*kw.
"""

from __future__ import annotations

import math

from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.frontends.onnx_ops import pad_lists
from edgesim.frontends.onnx_shape import _out, _x
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind


def pool3d(ctx: Ctx, n: OnnxNode, op: OpKind, kernel: tuple[int, ...], strides: tuple[int, ...],
           dil: tuple[int, ...]) -> None:
    x = _x(n)
    b, c, d, h, w = ctx.shape(x)
    before, after = pad_lists(ctx, n, (d, h, w), kernel, strides, dil)
    cip, ceil = bool(n.i("count_include_pad", 0)), bool(n.i("ceil_mode", 0))
    slices = ctx.fresh(f"{n.name}_slices")
    ctx.emit(OpKind.RESHAPE, [x], [slices], A.ReshapeAttrs((b, c * d, h, w)), f"{n.name}_to_slices")
    hw_attrs = A.PoolAttrs(kernel_hw=(kernel[1], kernel[2]), stride_hw=(strides[1], strides[2]),
                           padding=A.Padding(before[1], before[2], after[1], after[2]), layout=A.Layout.NCHW,
                           count_include_pad=cip, ceil_mode=ceil, dilation_hw=(dil[1], dil[2]))
    pooled = ctx.fresh(f"{n.name}_hw")
    ctx.emit(op, [slices], [pooled], hw_attrs, f"{n.name}_hw")
    oh, ow = ctx.shape(pooled)[2:]
    depth = ctx.fresh(f"{n.name}_depth_major")
    ctx.emit(OpKind.RESHAPE, [pooled], [depth], A.ReshapeAttrs((b, c, d, oh * ow)), f"{n.name}_to_depth")
    d_attrs = A.PoolAttrs(kernel_hw=(kernel[0], 1), stride_hw=(strides[0], 1),
                          padding=A.Padding(before[0], 0, after[0], 0), layout=A.Layout.NCHW,
                          count_include_pad=cip, ceil_mode=ceil, dilation_hw=(dil[0], 1))
    pooled_d = ctx.fresh(f"{n.name}_d")
    ctx.emit(op, [depth], [pooled_d], d_attrs, f"{n.name}_d")
    od = ctx.shape(pooled_d)[2]
    assert math.prod(ctx.shape(pooled_d)) == b * c * od * oh * ow
    ctx.emit(OpKind.RESHAPE, [pooled_d], [_out(n)], A.ReshapeAttrs((b, c, od, oh, ow)), n.name)
