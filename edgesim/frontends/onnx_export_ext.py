"""ONNX export of the IR ops added for ONNX conformance (math long tail, normalisations, index ops, GridSample).
Kept apart from ``onnx_export`` (size); the exporter merges ``EXT_EXPORT`` into its handler table."""

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


# UNARY_MATH / BINARY_MATH functions -> ONNX op and its attributes (from MathAttrs alpha, beta, gamma)
_MATH_EXPORT: dict[str, tuple[str, tuple[str, ...]]] = {
    "sin": ("Sin", ()), "cos": ("Cos", ()), "tan": ("Tan", ()), "asin": ("Asin", ()), "acos": ("Acos", ()),
    "atan": ("Atan", ()), "sinh": ("Sinh", ()), "cosh": ("Cosh", ()), "asinh": ("Asinh", ()),
    "acosh": ("Acosh", ()), "atanh": ("Atanh", ()), "elu": ("Elu", ("alpha",)),
    "selu": ("Selu", ("alpha", "", "gamma")), "celu": ("Celu", ("alpha",)), "softplus": ("Softplus", ()),
    "softsign": ("Softsign", ()), "mish": ("Mish", ()), "floor": ("Floor", ()), "ceil": ("Ceil", ()),
    "round": ("Round", ()), "sign": ("Sign", ()), "not": ("Not", ()), "isnan": ("IsNaN", ()),
    "isinf": ("IsInf", ("detect_negative", "detect_positive")), "thresholded_relu": ("ThresholdedRelu", ("alpha",)),
    "shrink": ("Shrink", ("lambd", "bias")), "mod": ("Mod", ("fmod",)), "and": ("And", ()), "or": ("Or", ()),
    "xor": ("Xor", ()), "greater_equal": ("GreaterOrEqual", ()), "less_equal": ("LessOrEqual", ()),
}
_INT_ATTRS = {"detect_negative", "detect_positive", "fmod"}


def _region_yolo(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    """RegionYolo (no ONNX op): Where(w/h channel mask, x, Sigmoid(x)), the mask constant along axis 1."""
    a: A.MathAttrs = n.attrs
    shape = e.tensor(n.inputs[0]).shape
    offsets = np.arange(shape[1]) % int(a.alpha)
    mask = ((offsets >= 2) & (offsets < int(a.beta))).reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    sig = e.tmp(n.name)
    e.emit("Sigmoid", ins[:1], [sig], name=f"{n.name}__sigmoid")
    e.emit("Where", [e.init(f"{n.name}_wh_mask", mask), ins[0], sig], outs, name=n.name)


def _math(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.MathAttrs = n.attrs
    if a.fn == "region_yolo":
        _region_yolo(e, n, ins, outs)
        return
    if a.fn not in _MATH_EXPORT:
        raise UnsupportedOpError(f"math function '{a.fn}' has no ONNX export", node=n.name)
    op_type, names = _MATH_EXPORT[a.fn]
    kw: dict[str, Any] = {}
    for name, v in zip(names, (a.alpha, a.beta, a.gamma), strict=False):
        if name:
            kw[name] = int(v) if name in _INT_ATTRS else float(v)
    e.emit(op_type, ins[:2] if n.op is OpKind.BINARY_MATH else ins[:1], outs, name=n.name, **kw)


_REDUCE_EXPORT = {"min": "ReduceMin", "prod": "ReduceProd", "l1": "ReduceL1", "l2": "ReduceL2",
                  "log_sum": "ReduceLogSum", "log_sum_exp": "ReduceLogSumExp", "sum_square": "ReduceSumSquare"}


def _reduce_math(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ReduceMathAttrs = n.attrs
    axes = [int(x) for x in a.axes]
    if e.opset >= 18:
        e.emit(_REDUCE_EXPORT[a.fn], [ins[0], e.ints("axes", axes)], outs, name=n.name, keepdims=int(a.keepdims))
    else:
        e.emit(_REDUCE_EXPORT[a.fn], ins[:1], outs, name=n.name, axes=axes, keepdims=int(a.keepdims))


def _arg_reduce(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ArgReduceAttrs = n.attrs
    e.emit("ArgMax" if a.fn == "max" else "ArgMin", ins[:1], outs, name=n.name, axis=a.axis,
           keepdims=int(a.keepdims), select_last_index=int(a.select_last_index))


def _cumsum(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.CumSumAttrs = n.attrs
    e.emit("CumProd" if a.product else "CumSum", [ins[0], e.init("cumsum_axis", np.array(a.axis, np.int64))], outs,
           name=n.name,
           exclusive=int(a.exclusive), reverse=int(a.reverse))


def _trilu(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.TriluAttrs = n.attrs
    e.emit("Trilu", [ins[0], e.init("trilu_k", np.array(a.k, np.int64))], outs, name=n.name, upper=int(a.upper))


def _rms_norm(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    if e.opset < 23:
        raise UnsupportedOpError(f"RMSNormalization needs opset 23 (exporting opset {e.opset})", node=n.name)
    a: A.LayerNormAttrs = n.attrs
    e.emit("RMSNormalization", ins[:2], outs, name=n.name, axis=a.axis, epsilon=a.epsilon)


def _group_norm(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.GroupNormAttrs = n.attrs
    channels = e.g.tensor(n.inputs[0]).shape[1]
    if a.groups == channels:
        e.emit("InstanceNormalization", ins[:3], outs, name=n.name, epsilon=a.epsilon)
    elif e.opset >= 21:
        e.emit("GroupNormalization", ins[:3], outs, name=n.name, num_groups=a.groups, epsilon=a.epsilon)
    else:
        raise UnsupportedOpError(f"GroupNormalization needs opset 21 (exporting opset {e.opset})", node=n.name)


def _gather_elements(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("GatherElements", ins[:2], outs, name=n.name, axis=int(n.attrs.axis))


def _gather_nd(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    e.emit("GatherND", ins[:2], outs, name=n.name, batch_dims=int(n.attrs.batch_dims))


def _scatter_elements(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ScatterAttrs = n.attrs
    kw: dict[str, Any] = {} if a.reduction == "none" else {"reduction": a.reduction}
    e.emit("ScatterElements", ins[:3], outs, name=n.name, axis=a.axis, **kw)


def _scatter_nd(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.ScatterAttrs = n.attrs
    kw: dict[str, Any] = {} if a.reduction == "none" else {"reduction": a.reduction}
    e.emit("ScatterND", ins[:3], outs, name=n.name, **kw)


def _grid_sample(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.GridSampleAttrs = n.attrs
    mode = a.mode if e.opset >= 20 else {"linear": "bilinear", "cubic": "bicubic"}.get(a.mode, a.mode)
    if e.opset < 16:
        raise UnsupportedOpError(f"GridSample needs opset 16 (exporting opset {e.opset})", node=n.name)
    e.emit("GridSample", ins[:2], outs, name=n.name, mode=mode, padding_mode=a.padding_mode,
           align_corners=int(a.align_corners))


def _topk(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.TopKAttrs = n.attrs
    e.emit("TopK", [ins[0], e.ints("topk_k", [a.k])], outs, name=n.name, axis=a.axis, largest=int(a.largest))


def _nms(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.NmsAttrs = n.attrs
    extra = [e.ints("nms_max_boxes", [a.max_boxes_per_class]),
             e.init("nms_iou", np.array([a.iou_threshold], np.float32))]
    if a.score_threshold is not None:
        extra.append(e.init("nms_score", np.array([a.score_threshold], np.float32)))
    e.emit("NonMaxSuppression", ins[:2] + extra, outs, name=n.name, center_point_box=int(a.center_point_box))


def _roi_align(e: _Exporter, n: Node, ins: list[str], outs: list[str]) -> None:
    a: A.RoiAlignAttrs = n.attrs
    if e.opset < 16:
        raise UnsupportedOpError(f"RoiAlign with coordinate modes needs opset 16 (exporting opset {e.opset})",
                                 node=n.name)
    e.emit("RoiAlign", ins[:3], outs, name=n.name, mode=a.mode, output_height=a.output_hw[0],
           output_width=a.output_hw[1], sampling_ratio=a.sampling_ratio, spatial_scale=a.spatial_scale,
           coordinate_transformation_mode="half_pixel" if a.half_pixel else "output_half_pixel")


EXT_EXPORT: dict[OpKind, Callable[[_Exporter, Node, list[str], list[str]], None]] = {
    OpKind.UNARY_MATH: _math, OpKind.BINARY_MATH: _math, OpKind.REDUCE_MATH: _reduce_math,
    OpKind.ARG_REDUCE: _arg_reduce, OpKind.CUMSUM: _cumsum, OpKind.TRILU: _trilu, OpKind.RMS_NORM: _rms_norm,
    OpKind.GROUP_NORM: _group_norm, OpKind.GATHER_ELEMENTS: _gather_elements, OpKind.GATHER_ND: _gather_nd,
    OpKind.SCATTER_ELEMENTS: _scatter_elements, OpKind.TOPK: _topk, OpKind.SCATTER_ND: _scatter_nd,
    OpKind.GRID_SAMPLE: _grid_sample, OpKind.NON_MAX_SUPPRESSION: _nms,
    OpKind.ROI_ALIGN: _roi_align,
}
