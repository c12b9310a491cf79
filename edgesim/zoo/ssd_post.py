"""SSD post-processing as the published TF Object Detection API models carry it in their graph.

The frozen ``ssd_mobilenet_v1_coco`` / ``ssdlite_mobilenet_v2_coco`` graphs (and the OpenVINO Open Model Zoo IR
converted from them, which ends in one DetectionOutput layer) do after the box/class heads:

- box decoding against the anchors (``faster_rcnn_box_coder`` with scales y/x 10, h/w 5: centre = t / 10 * anchor
  size + anchor centre, size = exp(t / 5) * anchor size, then corners): elementwise ops on (1, N, 4);
- the SIGMOID score converter on every class logit (1, N, C);
- ``batch_non_max_suppression`` per class, background excluded (iou_threshold 0.6, max_detections_per_class 100;
  score_threshold 1e-8 for ssd_mobilenet_v1_coco and ssd_mobilenet_v2_coco, 0.3 for ssdlite_mobilenet_v2_coco).

Sources: the pipeline.config files shipped in the TF OD API model-zoo tarballs
(models/research/object_detection/samples/configs/ssd_mobilenet_v1_coco.config, ssd_mobilenet_v2_coco.config,
ssdlite_mobilenet_v2_coco.config)
and models/research/object_detection/anchor_generators/multiple_grid_anchor_generator.py (create_ssd_anchors).
The final gather of the 100 best boxes over all classes is a host copy of 100 rows and is left out.

EfficientDet-D0 as the OpenVINO Open Model Zoo ships it (``efficientdet-d0-tf``, the model of OpenVINO's benchmark
tables) ends the same way: the Model Optimizer transformation for the automl graph
(tools/mo/openvino/tools/mo/front/tf/AutomlEfficientDet.py with automl_efficientdet.json) replaces automl's own
post-processing by a Sigmoid on the class logits and one DetectionOutput (CENTER_SIZE decode with variance 1,
top_k = keep_top_k = 100, nms_threshold 0.6, confidence_threshold 0.2, no background class) over
PriorBoxClustered anchors: 3 scales (2^(i/3)) x 3 aspect ratios ((1, 1), (1.4, 0.7), (0.7, 1.4)) per cell, base
size 4 * 2^level on levels 3-7 (``effdet_anchors``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor
from edgesim.zoo.builder import GraphBuilder


@dataclass(frozen=True)
class SsdPostConfig:
    """The post_processing block of a TF OD API SSD pipeline.config."""

    score_threshold: float
    iou_threshold: float = 0.6
    max_detections_per_class: int = 100
    box_scales: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)  # faster_rcnn_box_coder y, x, h, w
    background_class: bool = True  # class 0 of the logits is background (TF OD API SSD), dropped before the NMS


SSD_MOBILENET_V1_POST = SsdPostConfig(score_threshold=1e-8)
SSDLITE_MOBILENET_V2_POST = SsdPostConfig(score_threshold=0.3)
SSD_MOBILENET_V2_POST = SsdPostConfig(score_threshold=1e-8)  # ssd_mobilenet_v2_coco.config
# automl_efficientdet.json: nms_threshold 0.6, confidence_threshold 0.2, variance 1 (no coder scales); top_k 100
EFFICIENTDET_POST = SsdPostConfig(score_threshold=0.2, iou_threshold=0.6, box_scales=(1.0, 1.0, 1.0, 1.0),
                                  background_class=False)


def ssd_anchors(grids: list[tuple[int, int]], min_scale: float = 0.2, max_scale: float = 0.95) -> np.ndarray:
    """(N, 4) anchors (y_centre, x_centre, height, width), normalised, in the heads' (y, x, anchor) order:
    create_ssd_anchors with aspect ratios 1, 2, 1/2, 3, 1/3, an interpolated scale and 3 boxes in the lowest
    layer (0.1 at 1:1, then scale 0 at 2:1 and 1:2)."""
    n = len(grids)
    scales = [min_scale + (max_scale - min_scale) * i / (n - 1) for i in range(n)] + [1.0]
    rows: list[tuple[float, float, float, float]] = []
    for level, (h, w) in enumerate(grids):
        if level == 0:
            boxes = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            s = scales[level]
            boxes = [(s, ar) for ar in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)]
            boxes.append((math.sqrt(s * scales[level + 1]), 1.0))
        rows.extend(_cell_anchors(h, w, [(s / math.sqrt(ar), s * math.sqrt(ar)) for s, ar in boxes]))
    return np.asarray(rows, np.float32)


def effdet_anchors(grids: list[tuple[int, int]], image_hw: tuple[int, int], min_level: int = 3,
                   anchor_scale: float = 4.0) -> np.ndarray:
    """(N, 4) anchors (y_centre, x_centre, height, width), normalised, in the heads' (y, x, anchor) order: per
    level ``min_level + i`` a base size ``anchor_scale * 2^level`` pixels, scales 2^(0, 1/3, 2/3) times the aspect
    pairs (w, h) = (1, 1), (1.4, 0.7), (0.7, 1.4), centres at the cell centres (PriorBoxClustered, offset 0.5)."""
    img_h, img_w = image_hw
    aspects = ((1.0, 1.0), (1.4, 0.7), (0.7, 1.4))
    rows: list[tuple[float, float, float, float]] = []
    for level, (h, w) in enumerate(grids, start=min_level):
        base = anchor_scale * 2.0 ** level
        sizes = [(base * 2.0 ** (s / 3) * ah, base * 2.0 ** (s / 3) * aw) for s in range(3) for aw, ah in aspects]
        rows.extend(_cell_anchors(h, w, [(sh / img_h, sw / img_w) for sh, sw in sizes]))
    return np.asarray(rows, np.float32)


def _cell_anchors(h: int, w: int, sizes: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """One (y_centre, x_centre, height, width) row per cell of an h x w map (row-major, centres at the cells'
    middles, normalised) and per normalised (height, width) in ``sizes``, in the heads' (y, x, anchor) order."""
    yc, xc = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    return [(y, x, sh, sw) for y, x in zip(yc.reshape(-1), xc.reshape(-1), strict=True) for sh, sw in sizes]


def _ew(b: GraphBuilder, op: OpKind, x: str, y: str) -> str:
    return b.one(op, [x, y], A.ElementwiseAttrs())


def decode_boxes(b: GraphBuilder, encodings: str, anchors: np.ndarray, cfg: SsdPostConfig) -> str:
    """(1, N, 4) box encodings (ty, tx, th, tw) -> (1, N, 4) corners (ymin, xmin, ymax, xmax)."""
    n = anchors.shape[0]
    t = _ew(b, OpKind.MUL, encodings, b.const("box_coder_scale", 1.0 / np.asarray(cfg.box_scales, np.float32)))
    t_c, t_s = b.node(OpKind.SPLIT, [t], A.SplitAttrs(axis=2, sizes=(2, 2)), num_outputs=2)
    size = anchors[None, :, 2:].copy()
    centre = _ew(b, OpKind.ADD, _ew(b, OpKind.MUL, t_c, b.const("anchor_size", size)),
                 b.const("anchor_centre", anchors[None, :, :2].copy()))
    half = _ew(b, OpKind.MUL, b.one(OpKind.EXP, [t_s], A.NoAttrs()), b.const("anchor_half_size", size / 2))
    lo, hi = _ew(b, OpKind.SUB, centre, half), _ew(b, OpKind.ADD, centre, half)
    assert b.shape(lo) == (1, n, 2)
    return b.concat([lo, hi], axis=2)


def postprocess(b: GraphBuilder, encodings: str, logits: str, anchors: np.ndarray, cfg: SsdPostConfig) -> str:
    """Decode, sigmoid scores (without the background class where there is one), per-class NMS; returns the NMS
    selection (int64 rows (batch, class, box), sized by its upper bound as in ``NmsAttrs``)."""
    boxes = decode_boxes(b, encodings, anchors, cfg)
    _, n, c = b.shape(logits)
    scores = b.one(OpKind.SIGMOID, [logits], A.NoAttrs())
    if cfg.background_class:
        scores = b.one(OpKind.SLICE, [scores], A.SliceAttrs(begin=(0, 0, 1), end=(1, n, c), step=(1, 1, 1)))
    per_class = b.transpose(scores, (0, 2, 1))
    nms = A.NmsAttrs(cfg.max_detections_per_class, cfg.iou_threshold, cfg.score_threshold)
    out = b.one(OpKind.NON_MAX_SUPPRESSION, [boxes, per_class], nms, prefix="nms")
    b.tensors[out] = Tensor(out, b.shape(out), DType.INT64)  # box indices, not activations
    return out
