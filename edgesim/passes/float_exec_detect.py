"""Detector post-processing ops for the float executor: NON_MAX_SUPPRESSION (ONNX NonMaxSuppression).

The arithmetic follows ONNX's reference implementation (``onnx/reference/ops/op_non_max_suppression.py``) in
float32 and in the same order, so a box pair at exactly the IoU threshold is decided the same way.
"""

from __future__ import annotations

import numpy as np

from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node

Arr = np.ndarray


def _corners(boxes: Arr, center: bool) -> tuple[Arr, Arr, Arr, Arr]:
    """(x_min, x_max, y_min, y_max) of each box; corner boxes may list their corners in either order."""
    b = boxes.astype(np.float32)
    if center:
        hw, hh = b[:, 2] / np.float32(2), b[:, 3] / np.float32(2)
        return b[:, 0] - hw, b[:, 0] + hw, b[:, 1] - hh, b[:, 1] + hh
    return (np.minimum(b[:, 1], b[:, 3]), np.maximum(b[:, 1], b[:, 3]),
            np.minimum(b[:, 0], b[:, 2]), np.maximum(b[:, 0], b[:, 2]))


def _suppressed(c: tuple[Arr, Arr, Arr, Arr], top: int, rest: Arr, iou_threshold: np.float32) -> Arr:
    """Which boxes ``rest`` have IoU > threshold with box ``top`` (no overlap or an empty box never suppresses)."""
    x0, x1, y0, y1 = c
    ix0, ix1 = np.maximum(x0[top], x0[rest]), np.minimum(x1[top], x1[rest])
    iy0, iy1 = np.maximum(y0[top], y0[rest]), np.minimum(y1[top], y1[rest])
    inter = (ix1 - ix0) * (iy1 - iy0)
    a_top = (x1[top] - x0[top]) * (y1[top] - y0[top])
    a_rest = (x1[rest] - x0[rest]) * (y1[rest] - y0[rest])
    union = a_top + a_rest - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    overlap = (ix1 > ix0) & (iy1 > iy0) & (inter > 0) & (a_top > 0) & (a_rest > 0) & (union > 0)
    return overlap & (iou > iou_threshold)


def _select(boxes: Arr, scores: Arr, a: A.NmsAttrs) -> list[int]:
    """Greedy selection in one (batch, class): best score first (ties: lower box index), each kept box removes
    the remaining candidates it overlaps by more than the threshold."""
    idx = np.arange(len(scores))
    if a.score_threshold is not None:
        idx = idx[scores > np.float32(a.score_threshold)]
    order = idx[np.lexsort((idx, -scores[idx].astype(np.float64)))]
    corners = _corners(boxes, a.center_point_box)
    kept: list[int] = []
    thr = np.float32(a.iou_threshold)
    while order.size and len(kept) < a.max_boxes_per_class:
        top, order = int(order[0]), order[1:]
        kept.append(top)
        order = order[~_suppressed(corners, top, order, thr)]
    return kept


def nms(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.NmsAttrs = node.attrs
    boxes, scores = ins[0], ins[1]
    assert boxes is not None and scores is not None
    rows = [(b, c, k) for b in range(scores.shape[0]) for c in range(scores.shape[1])
            for k in _select(boxes[b], scores[b, c], a)]
    return np.asarray(rows, np.int64).reshape(-1, 3)
