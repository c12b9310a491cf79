"""Detector post-processing ops for the float executor: NON_MAX_SUPPRESSION (ONNX NonMaxSuppression).

The arithmetic follows ONNX's reference implementation (``onnx/reference/ops/op_non_max_suppression.py``) in
float32 and in the same order, so a box pair at exactly the IoU threshold is decided the same way.
"""

from __future__ import annotations

import numpy as np

from edgesim.errors import EdgesimError
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


def _axis_samples(start: float, bin_size: float, bins: int, grid: int, size: int) -> tuple[Arr, Arr, Arr, Arr]:
    """Bilinear taps of the sample points along one axis, (bins, grid) each: low index, high index, their weights
    (0 for points beyond the map by more than one pixel, onnx's rule), as onnx's reference pre-computes them."""
    pos = start + np.arange(bins)[:, None] * bin_size + (np.arange(grid)[None, :] + 0.5) * bin_size / grid
    valid = (pos >= -1.0) & (pos <= size)
    p = np.maximum(pos, 0.0)
    low = np.floor(p).astype(np.int64)
    edge = low >= size - 1
    low = np.where(edge, size - 1, low)
    high = np.where(edge, size - 1, low + 1)
    frac = np.where(edge, 0.0, p - low)
    return low, high, (1.0 - frac) * valid, frac * valid


def roi_align(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.RoiAlignAttrs = node.attrs
    x, rois, idx = ins[0], ins[1], ins[2]
    assert x is not None and rois is not None and idx is not None
    oh, ow = a.output_hw
    bad = [int(i) for i in np.asarray(idx).reshape(-1) if not 0 <= int(i) < x.shape[0]]
    if bad:
        raise EdgesimError(f"RoiAlign batch index {bad[0]} is outside 0..{x.shape[0] - 1}", node=node.name)
    out = np.zeros((rois.shape[0], x.shape[1], oh, ow), np.float64)
    offset = 0.5 if a.half_pixel else 0.0
    for r in range(rois.shape[0]):
        x0, y0, x1, y1 = (float(v) * a.spatial_scale - offset for v in rois[r])
        rw, rh = x1 - x0, y1 - y0
        if not a.half_pixel:  # malformed rois become 1x1
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        gh = a.sampling_ratio or int(np.ceil(rh / oh))
        gw = a.sampling_ratio or int(np.ceil(rw / ow))
        ylo, yhi, wyl, wyh = _axis_samples(y0, rh / oh, oh, gh, x.shape[2])
        xlo, xhi, wxl, wxh = _axis_samples(x0, rw / ow, ow, gw, x.shape[3])
        img = x[int(idx[r])].astype(np.float64)  # (C, H, W)
        # the four taps of every sample: (C, oh, gh, ow, gw)
        taps = [img[:, yi[:, :, None, None], xi[None, None, :, :]] * (wy[:, :, None, None] * wx[None, None, :, :])
                for yi, wy in ((ylo, wyl), (yhi, wyh)) for xi, wx in ((xlo, wxl), (xhi, wxh))]
        if a.mode == "avg":
            out[r] = sum(taps).sum(axis=(2, 4)) / max(gh * gw, 1)
        else:  # onnx's max: the largest weighted tap over the bin's samples
            out[r] = np.max(np.maximum.reduce(taps), axis=(2, 4)) if gh * gw else 0.0
    return out.astype(np.float32)
