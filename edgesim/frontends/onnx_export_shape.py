"""ONNX export of the pooling, reduction, normalisation and data-movement ops (Pool, Reduce*, Softmax,
BatchNormalization, LayerNormalization, LRN, Reshape, Transpose, Concat, Split, Slice, Pad, Resize, Gather,
Expand). Kept apart from ``onnx_export`` (size); the exporter merges ``SHAPE_EXPORT`` into its handler table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesim.errors import UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Node
from edgesim.ir.ops import OpKind

if TYPE_CHECKING:  # onnx_export imports this module
    from edgesim.frontends.onnx_export import _Exporter


def _pool(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.PoolAttrs = n.attrs
    p = a.padding
    attrs: dict[str, Any] = dict(kernel_shape=list(a.kernel_hw), strides=list(a.stride_hw),
                                 pads=[p.top, p.left, p.bottom, p.right], ceil_mode=int(a.ceil_mode))
    if a.dilation_hw != (1, 1):
        attrs["dilations"] = list(a.dilation_hw)
    if n.op is OpKind.AVG_POOL2D:
        e.main(n, "AveragePool", ins[:1], outs[0], count_include_pad=int(a.count_include_pad), **attrs)
    elif len(outs) > 1:  # values and indices (an activation is not fused into such a pool)
        e.emit("MaxPool", ins[:1], outs[:2], name=n.name, **attrs)
    else:
        e.main(n, "MaxPool", ins[:1], outs[0], **attrs)


def _reduce(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ReduceAttrs = n.attrs
    op_type = {OpKind.MEAN: "ReduceMean", OpKind.REDUCE_MAX: "ReduceMax", OpKind.REDUCE_SUM: "ReduceSum"}[n.op]
    axes = [int(x) for x in a.axes]
    # ReduceSum takes axes as an input from opset 13, ReduceMean/ReduceMax from opset 18.
    as_input = e.opset >= 18 or n.op is OpKind.REDUCE_SUM
    if as_input:
        e.emit(op_type, [ins[0], e.ints("axes", axes)], outs, name=n.name, keepdims=int(a.keepdims))
    else:
        e.emit(op_type, ins[:1], outs, name=n.name, axes=axes, keepdims=int(a.keepdims))


def _softmax(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.SoftmaxAttrs = n.attrs
    x = ins[0]
    if a.beta != 1.0:
        scaled = e.tmp(outs[0])
        e.emit("Mul", [x, e.init("softmax_beta", np.array(a.beta, np.float32))], [scaled])
        x = scaled
    e.emit("Softmax" if n.op is OpKind.SOFTMAX else "LogSoftmax", [x], outs, name=n.name, axis=int(a.axis))


def _batch_norm(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("BatchNormalization", ins, outs, name=n.name, epsilon=float(n.attrs.epsilon))


def _layer_norm(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.LayerNormAttrs = n.attrs
    if e.opset < 17:
        raise UnsupportedOpError(f"LAYER_NORM needs ONNX opset 17 or later (asked for {e.opset})", node=n.name)
    shape = e.shape_of(n.inputs[0])
    norm_shape = shape[a.axis % len(shape):]
    scale = ins[1] if len(ins) > 1 and ins[1] else e.init("ln_scale", np.ones(norm_shape, np.float32))
    e.emit("LayerNormalization", [ins[0], scale, *ins[2:3]], outs, name=n.name, axis=int(a.axis),
           epsilon=float(a.epsilon))


def _lrn(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.LRNAttrs = n.attrs
    e.emit("LRN", ins[:1], outs, name=n.name, size=int(a.size), alpha=float(a.alpha), beta=float(a.beta),
           bias=float(a.bias))


def _reshape(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    target = list(n.attrs.new_shape)
    if 0 in target:  # ONNX reads 0 as "copy this dimension": write the resolved shape instead
        target = list(e.shape_of(n.outputs[0]))
    e.emit("Reshape", [ins[0], e.ints(f"{n.name}_shape", target)], outs, name=n.name)


def _transpose(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("Transpose", ins[:1], outs, name=n.name, perm=list(n.attrs.perm))


def _concat(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.main(n, "Concat", [i for i in ins if i], outs[0], axis=int(n.attrs.axis))


def _split(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.SplitAttrs = n.attrs
    e.emit("Split", [ins[0], e.ints("split", a.sizes)], outs, name=n.name, axis=int(a.axis))


def _slice(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.SliceAttrs = n.attrs
    # A resolved end of -1 with a negative step means "through index 0", which ONNX spells as INT64_MIN.
    ends = [int(np.iinfo(np.int64).min) if (end < 0 and step < 0) else end for end, step in zip(a.end, a.step,
                                                                                                 strict=True)]
    axes = list(range(len(a.begin)))
    e.emit("Slice", [ins[0], e.ints("starts", a.begin), e.ints("ends", ends), e.ints("axes", axes),
                     e.ints("steps", a.step)], outs, name=n.name)


def _pad(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.PadAttrs = n.attrs
    pads = [p[0] for p in a.pads] + [p[1] for p in a.pads]
    inputs = [ins[0], e.ints("pads", pads)]
    if a.mode == "constant":
        dt = e.g.tensor(n.inputs[0])
        value_dtype = np.float32 if dt.quant is not None or dt.dtype.is_float else dt.dtype.numpy()
        inputs.append(e.init("pad_value", np.array(a.constant_value, dtype=value_dtype)))
    e.emit("Pad", inputs, outs, name=n.name, mode=a.mode)


def _resize(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ResizeAttrs = n.attrs
    coord = "align_corners" if a.align_corners else "half_pixel" if a.half_pixel_centers else "asymmetric"
    mode = {"bilinear": "linear", "nearest": "nearest", "linear": "linear", "cubic": "cubic"}.get(a.mode)
    if mode is None:
        raise UnsupportedOpError(f"resize mode '{a.mode}' has no ONNX export", node=n.name)
    n_, c, h, w = e.shape_of(n.outputs[0])
    if a.layout is A.Layout.NHWC:
        n_, h, w, c = e.shape_of(n.outputs[0])
    sizes = e.ints("sizes", (n_, c, h, w))
    if a.roi_hw is not None:
        raise UnsupportedOpError("Resize tf_crop_and_resize has no ONNX export here", node=n.name)
    if a.antialias and e.opset < 18:
        raise UnsupportedOpError(f"Resize with antialias needs opset 18 (exporting opset {e.opset})", node=n.name)
    e.emit("Resize", [ins[0], "", "", sizes], outs, name=n.name, mode=mode, coordinate_transformation_mode=coord,
           nearest_mode="floor" if mode == "nearest" and coord == "asymmetric" else None,
           antialias=1 if a.antialias else None)


def _gather(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("Gather", ins[:2], outs, name=n.name, axis=int(n.attrs.axis))


def _expand(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("Expand", [ins[0], e.ints("expand_shape", n.attrs.shape)], outs, name=n.name)


_Handler = Callable[["_Exporter", Node, list[str], list[str]], None]

SHAPE_EXPORT: dict[OpKind, _Handler] = {
    OpKind.MAX_POOL2D: _pool, OpKind.AVG_POOL2D: _pool,
    OpKind.MEAN: _reduce, OpKind.REDUCE_MAX: _reduce, OpKind.REDUCE_SUM: _reduce,
    OpKind.SOFTMAX: _softmax, OpKind.LOG_SOFTMAX: _softmax, OpKind.BATCH_NORM: _batch_norm,
    OpKind.LAYER_NORM: _layer_norm, OpKind.LRN: _lrn, OpKind.RESHAPE: _reshape, OpKind.TRANSPOSE: _transpose,
    OpKind.CONCAT: _concat, OpKind.SPLIT: _split, OpKind.SLICE: _slice, OpKind.PAD: _pad,
    OpKind.RESIZE: _resize, OpKind.GATHER: _gather, OpKind.EXPAND: _expand,
}
