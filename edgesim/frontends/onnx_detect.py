"""ONNX detector post-processing ops: NonMaxSuppression."""

from __future__ import annotations

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind


def _scalar(ctx: Ctx, n: OnnxNode, k: int, what: str) -> float | None:
    """An optional scalar input's value (it sets the op's thresholds, so it must be known at import)."""
    if not n.input(k):
        return None
    v = np.asarray(ctx.need_const(n.input(k), n, what)).reshape(-1)
    if v.size != 1:
        raise ModelError(f"NonMaxSuppression {what} has {v.size} values, not 1", file=ctx.path, node=n.name)
    return float(v[0])


def non_max_suppression(ctx: Ctx, n: OnnxNode) -> None:
    """Its row count is data-dependent: the output may only leave the graph (a consumer would be sized by the
    upper bound the IR carries, not by the rows the boxes give)."""
    out = n.outputs[0]
    users = [c.name for c in ctx.onnx_consumers.get(out, [])]
    if users:
        raise UnsupportedOpError(f"NonMaxSuppression output feeding node '{users[0]}': its row count is known "
                                 "only at run time", file=ctx.path, node=n.name)
    center = n.i("center_point_box", 0)
    if center not in (0, 1):
        raise ModelError(f"center_point_box {center} is not 0 or 1", file=ctx.path, node=n.name)
    max_boxes = _scalar(ctx, n, 2, "max_output_boxes_per_class")
    iou = _scalar(ctx, n, 3, "iou_threshold")
    attrs = A.NmsAttrs(max(int(max_boxes or 0), 0), iou or 0.0, _scalar(ctx, n, 4, "score_threshold"),
                       bool(center))
    if attrs.max_boxes_per_class == 0:
        raise UnsupportedOpError("NonMaxSuppression keeping no boxes (max_output_boxes_per_class 0)",
                                 file=ctx.path, node=n.name)
    ctx.emit(OpKind.NON_MAX_SUPPRESSION, [n.inputs[0], n.inputs[1]], [out], attrs, n.name, dtypes=[DType.INT64])


def roi_align(ctx: Ctx, n: OnnxNode) -> None:
    mode = n.s("mode", "avg").lower()
    if mode not in ("avg", "max"):
        raise ModelError(f"RoiAlign mode '{mode}' is not avg or max", file=ctx.path, node=n.name)
    ctm = n.s("coordinate_transformation_mode", "half_pixel" if ctx.opset >= 16 else "output_half_pixel")
    if ctm not in ("half_pixel", "output_half_pixel"):
        raise ModelError(f"RoiAlign coordinate_transformation_mode '{ctm}'", file=ctx.path, node=n.name)
    out_hw = (n.i("output_height", 1), n.i("output_width", 1))
    if min(out_hw) < 1 or n.i("sampling_ratio", 0) < 0:
        raise ModelError(f"RoiAlign output {out_hw} / sampling_ratio {n.i('sampling_ratio', 0)} out of range",
                         file=ctx.path, node=n.name)
    attrs = A.RoiAlignAttrs(out_hw, n.i("sampling_ratio", 0), n.f("spatial_scale", 1.0), mode,
                            ctm == "half_pixel")
    ctx.emit(OpKind.ROI_ALIGN, list(n.inputs[:3]), [n.outputs[0]], attrs, n.name)
