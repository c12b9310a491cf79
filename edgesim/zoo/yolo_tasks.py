"""Ultralytics YOLO task heads on the detector bodies of ``yolo.py``: YOLOv8-pose and YOLOv8-seg (n/s/m), and the
YOLOv5 v7.0 segmentation models (n/s/m).

What the graph holds, as for the detectors: the network up to the heads' last convolutions, what rknn_model_zoo's
yolov8_pose / yolov8_seg / yolov5_seg demos and nncase compile and time. Box/keypoint decoding, NMS, and the mask
assembly (mask coefficients x prototypes, crop, upsample) are host post-processing there and are not in the graph.

- ``Pose`` (head.py): the ``Detect`` head (nc=1, person) plus ``cv4`` per level, Conv(ch, c4, 3), Conv(c4, c4, 3),
  Conv2d(c4, 17*3, 1) with c4 = max(ch[P3] // 4, 51). Output per stride: ``[box bins (64) ++ class logits (nc) ++
  keypoints (51)]``.
- ``Segment`` (head.py): ``Detect`` (nc=80) plus ``cv4`` per level to nm=32 mask coefficients (c4 = max(ch[P3] // 4,
  32)) and ``Proto`` on P3: Conv(c1, npr, 3), ConvTranspose2d(npr, npr, 2, 2), Conv(npr, npr, 3), Conv(npr, nm, 1)
  (Conv = Conv2d + BN + SiLU).
  Outputs: ``[box bins ++ class logits ++ mask coefficients]`` per stride, then the (1, 32, H/4, W/4) prototypes.
- YOLOv5 ``Segment`` (yolov5 models/yolo.py): per level ``anchors * (5 + nc + nm)`` channels, plus a Proto whose
  upsample is a nearest x2 resize (models/common.py), not a transposed convolution.

npr: the YAMLs give ``Segment [nc, 32, 256]``; parse_model scales it as a channel count, YOLOv8
``make_divisible(min(256, max_channels) * width, 8)`` (ultralytics nn/tasks.py), YOLOv5 ``make_divisible(256 * gw,
8)`` (yolov5 models/yolo.py): 64 / 128 / 192 for n / s / m. Sources: github.com/ultralytics/ultralytics
cfg/models/v8/yolov8-pose.yaml, yolov8-seg.yaml, nn/modules/head.py (Pose, Segment), nn/modules/block.py (Proto);
github.com/ultralytics/yolov5 models/segment/yolov5*-seg.yaml, models/yolo.py (Segment).
"""

from __future__ import annotations

from collections.abc import Callable

from edgesim.ir.graph import Graph
from edgesim.zoo.builder import GraphBuilder
from edgesim.zoo.yolo import (
    _V5_SCALES,
    _V8_SCALES,
    Shape4,
    _conv,
    _detect_v8_branches,
    _head_conv,
    _Scaler,
    _yolov5_body,
    _yolov8_body,
)

KEYPOINT_CHANNELS = 17 * 3  # COCO keypoints x (x, y, visibility)
MASK_COEFFICIENTS = 32  # nm: prototype masks per image, one coefficient each per anchor
_PROTO_CHANNELS = 256  # npr before width scaling


def _extra_branch(b: GraphBuilder, f: str, c4: int, out_channels: int) -> str:
    """Pose/Segment ``cv4``: two 3x3 Conv-BN-SiLU, then a biased 1x1 to the keypoints or mask coefficients."""
    return _head_conv(b, _conv(b, _conv(b, f, c4, 3), c4, 3), out_channels)


def _proto(b: GraphBuilder, p3: str, npr: int, transposed: bool) -> str:
    """``Proto``: 3x3 conv, x2 upsample, 3x3 conv, 1x1 conv to nm masks at stride 4. The upsample is a 2x2/2
    ConvTranspose2d in ultralytics (YOLOv8) and a nearest nn.Upsample in yolov5 (models/common.py)."""
    y = _conv(b, p3, npr, 3)
    y = b.conv_transpose(y, npr, 2, 2) if transposed else b.upsample(y)
    return _conv(b, _conv(b, y, npr, 3), MASK_COEFFICIENTS, 1)


def _v8_task_heads(b: GraphBuilder, feats: list[str], nc: int, extra_channels: int) -> list[str]:
    """Detect + cv4 per level, concatenated ``[box ++ cls ++ extra]`` as one map per stride."""
    c4 = max(b.shape(feats[0])[1] // 4, extra_channels)
    outs = []
    for f, (box, cls) in zip(feats, _detect_v8_branches(b, feats, nc, legacy=True), strict=True):
        outs.append(b.concat([box, cls, _extra_branch(b, f, c4, extra_channels)], axis=1))
    return outs


def _yolov8_pose(name: str, input_shape: Shape4, nc: int, sc: _Scaler) -> Graph:
    b, feats = _yolov8_body(name, input_shape, sc, v11=False)
    return b.build(_v8_task_heads(b, feats, nc, KEYPOINT_CHANNELS))


def _yolov8_seg(name: str, input_shape: Shape4, nc: int, sc: _Scaler) -> Graph:
    b, feats = _yolov8_body(name, input_shape, sc, v11=False)
    outs = _v8_task_heads(b, feats, nc, MASK_COEFFICIENTS)
    return b.build([*outs, _proto(b, feats[0], sc.ch(_PROTO_CHANNELS), transposed=True)])


def _yolov5_seg(name: str, input_shape: Shape4, nc: int, sc: _Scaler) -> Graph:
    b, feats = _yolov5_body(name, input_shape, sc)
    outs = [_head_conv(b, p, 3 * (5 + nc + MASK_COEFFICIENTS)) for p in feats]
    # yolov5's parse_model scales npr by the width alone (no max-channels clamp; 256 is under every cap anyway)
    return b.build([*outs, _proto(b, feats[0], sc.ch(_PROTO_CHANNELS), transposed=False)])


def _make(family: str, task: str, scale: str) -> Callable[[Shape4, int], Graph]:
    name = f"{family}{scale}_{task}"

    def builder(input_shape: Shape4, num_classes: int) -> Graph:
        if family == "yolov5":
            return _yolov5_seg(name, input_shape, num_classes, _Scaler(*_V5_SCALES[scale]))
        sc = _Scaler(*_V8_SCALES[scale])
        if task == "pose":
            return _yolov8_pose(name, input_shape, num_classes, sc)
        return _yolov8_seg(name, input_shape, num_classes, sc)

    builder.__name__ = name
    return builder


yolov8n_pose, yolov8s_pose, yolov8m_pose = (_make("yolov8", "pose", s) for s in "nsm")
yolov8n_seg, yolov8s_seg, yolov8m_seg = (_make("yolov8", "seg", s) for s in "nsm")
yolov5n_seg, yolov5s_seg, yolov5m_seg = (_make("yolov5", "seg", s) for s in "nsm")
