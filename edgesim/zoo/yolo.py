"""YOLO detectors as published: Ultralytics YOLOv5 (v6.0+ layout, v7.0 weights), YOLOv8 and YOLO11 (n/s/m), and
Darknet YOLOv3-tiny.

What the graph holds: the network up to and including the Detect head's convolutions, i.e. what vendor NPU
toolchains (rknn_model_zoo, hailo_model_zoo, OpenVINO, ESP-DL) compile and time. Anchor/DFL decoding, the box
arithmetic and NMS run on the host in those tables and are not part of the graph. Outputs are the raw per-level
head maps: YOLOv8/11 give ``[box distribution (4*16) ++ class logits (80)]`` per stride (8, 16, 32); YOLOv5 and
YOLOv3-tiny give ``anchors * (5 + 80)`` channels per level.

Channel and depth scaling follow Ultralytics ``parse_model``: channels ``make_divisible(min(c, max_ch) * width, 8)``,
repeats ``max(round(n * depth), 1)``. Sources: github.com/ultralytics/ultralytics cfg/models/{v5,v8,11}/*.yaml and
nn/modules/block.py, head.py; github.com/pjreddie/darknet cfg/yolov3-tiny.cfg.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.zoo.builder import GraphBuilder

Shape4 = tuple[int, int, int, int]

# scale -> (depth multiple, width multiple, max channels), from the Ultralytics model YAMLs.
_V5_SCALES = {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 1024)}
_V8_SCALES = {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 768)}
_V11_SCALES = {"n": (0.50, 0.25, 1024), "s": (0.50, 0.50, 1024), "m": (0.50, 1.00, 512)}
_REG_MAX = 16  # DFL bins per box side (YOLOv8/11)


class _Scaler:
    def __init__(self, depth: float, width: float, max_ch: int, c3k_all: bool = False) -> None:
        self.depth, self.width, self.max_ch = depth, width, max_ch
        self.c3k_all = c3k_all  # YOLO11 m/l/x: parse_model turns every C3k2 into C3k blocks

    def ch(self, c: int) -> int:
        return int(math.ceil(min(c, self.max_ch) * self.width / 8) * 8)

    def n(self, n: int) -> int:
        return max(round(n * self.depth), 1)


def _check(name: str, input_shape: Shape4, stride: int = 32) -> None:
    _, _, h, w = input_shape
    if h % stride or w % stride:
        raise EdgesimError(f"{name} needs an input height and width divisible by {stride}, got {h}x{w}",
                           field="input_shape")


def _conv(b: GraphBuilder, x: str, c: int, k: int = 1, s: int = 1, g: int = 1, act: str = "silu",
          pad: int | None = None) -> str:
    """Ultralytics ``Conv``: Conv2d(bias=False) + BatchNorm2d + SiLU (autopad k//2)."""
    p = k // 2 if pad is None else pad
    return b.act(b.bn(b.conv(x, c, k, s, groups=g, padding=A.Padding(p, p, p, p))), act)


def _head_conv(b: GraphBuilder, x: str, c: int) -> str:
    """The plain biased 1x1 Conv2d that ends each head branch."""
    return b.conv(x, c, 1, bias=True, padding=A.Padding())


def _bottleneck(b: GraphBuilder, x: str, c2: int, shortcut: bool, k: tuple[int, int], e: float) -> str:
    c1 = b.shape(x)[1]
    y = _conv(b, _conv(b, x, int(c2 * e), k[0]), c2, k[1])
    return b.add(x, y) if shortcut and c1 == c2 else y


def _c3(b: GraphBuilder, x: str, c2: int, n: int, shortcut: bool = True, k: tuple[int, int] = (1, 3)) -> str:
    """CSP bottleneck with 3 convs: YOLOv5 ``C3`` (bottlenecks 1x1 then 3x3), YOLO11 ``C3k`` (k=(3, 3))."""
    c_ = int(c2 * 0.5)
    y = _conv(b, x, c_, 1)
    for _ in range(n):
        y = _bottleneck(b, y, c_, shortcut, k, 1.0)
    return _conv(b, b.concat([y, _conv(b, x, c_, 1)], axis=1), c2, 1)


def _c2f(b: GraphBuilder, x: str, c2: int, n: int, shortcut: bool, e: float = 0.5, c3k: bool | None = None) -> str:
    """YOLOv8 ``C2f`` (c3k None) or YOLO11 ``C3k2`` (c3k False: Bottleneck e=0.5; True: C3k blocks)."""
    c = int(c2 * e)
    y = _conv(b, x, 2 * c, 1)
    parts = list(b.node(OpKind.SPLIT, [y], A.SplitAttrs(axis=1, sizes=(c, c)), num_outputs=2))
    last = parts[-1]
    for _ in range(n):
        if c3k is None:
            last = _bottleneck(b, last, c, shortcut, (3, 3), 1.0)
        elif c3k:
            last = _c3(b, last, c, 2, shortcut, k=(3, 3))
        else:
            last = _bottleneck(b, last, c, shortcut, (3, 3), 0.5)
        parts.append(last)
    return _conv(b, b.concat(parts, axis=1), c2, 1)


def _sppf(b: GraphBuilder, x: str, c2: int) -> str:
    """Spatial pyramid pooling, fast: three chained 5x5/1 max pools."""
    c_ = b.shape(x)[1] // 2
    y = [_conv(b, x, c_, 1)]
    for _ in range(3):
        y.append(b.maxpool(y[-1], 5, 1, pad=2))
    return _conv(b, b.concat(y, axis=1), c2, 1)


def _attention(b: GraphBuilder, x: str, heads: int, attn_ratio: float = 0.5) -> str:
    """YOLO11 ``Attention`` (inside PSABlock): 1x1 qkv conv, per-head softmax(q^T k) over H*W positions, plus a
    depthwise 3x3 positional encoding of v, then a 1x1 projection."""
    _, dim, h, w = b.shape(x)
    n = h * w
    head_dim = dim // heads
    key_dim = int(head_dim * attn_ratio)
    qkv = _conv(b, x, dim + 2 * key_dim * heads, 1, act="none")
    qkv = b.reshape(qkv, (heads, 2 * key_dim + head_dim, n))
    q, k, v = b.node(OpKind.SPLIT, [qkv], A.SplitAttrs(axis=1, sizes=(key_dim, key_dim, head_dim)), num_outputs=3)
    scores = b.one(OpKind.MATMUL, [q, k], A.MatMulAttrs(transpose_a=True))  # (heads, N, N)
    scale = b.const(b.uid("attn_scale"), np.array([key_dim**-0.5], np.float32))
    probs = b.one(OpKind.SOFTMAX, [b.mul(scores, scale)], A.SoftmaxAttrs(axis=-1))
    ctx = b.one(OpKind.MATMUL, [v, probs], A.MatMulAttrs(transpose_b=True))  # (heads, head_dim, N)
    ctx = b.reshape(ctx, (1, dim, h, w))
    pe = _conv(b, b.reshape(v, (1, dim, h, w)), dim, 3, g=dim, act="none")
    return _conv(b, b.add(ctx, pe), dim, 1, act="none")


def _c2psa(b: GraphBuilder, x: str, n: int) -> str:
    c1 = b.shape(x)[1]
    c = c1 // 2
    y = _conv(b, x, 2 * c, 1)
    a, t = b.node(OpKind.SPLIT, [y], A.SplitAttrs(axis=1, sizes=(c, c)), num_outputs=2)
    for _ in range(n):
        t = b.add(t, _attention(b, t, max(c // 64, 1)))
        t = b.add(t, _conv(b, _conv(b, t, 2 * c, 1), c, 1, act="none"))
    return _conv(b, b.concat([a, t], axis=1), c1, 1)


def _detect_v8_branches(b: GraphBuilder, feats: list[str], nc: int, legacy: bool) -> list[tuple[str, str]]:
    """Decoupled anchor-free head: per level, a box branch (to 4*reg_max DFL bins) and a class branch."""
    ch0 = b.shape(feats[0])[1]
    c2 = max(16, ch0 // 4, _REG_MAX * 4)
    c3 = max(ch0, min(nc, 100))
    outs = []
    for f in feats:
        box = _head_conv(b, _conv(b, _conv(b, f, c2, 3), c2, 3), 4 * _REG_MAX)
        if legacy:
            cls = _conv(b, _conv(b, f, c3, 3), c3, 3)
        else:  # YOLO11: depthwise 3x3 + pointwise, twice
            cin = b.shape(f)[1]
            cls = _conv(b, _conv(b, f, cin, 3, g=cin), c3, 1)
            cls = _conv(b, _conv(b, cls, c3, 3, g=c3), c3, 1)
        outs.append((box, _head_conv(b, cls, nc)))
    return outs


def _detect_v8(b: GraphBuilder, feats: list[str], nc: int, legacy: bool) -> list[str]:
    """The Detect head's per-level outputs: ``[box bins ++ class logits]``."""
    return [b.concat([box, cls], axis=1) for box, cls in _detect_v8_branches(b, feats, nc, legacy)]


def _yolov8_body(name: str, input_shape: Shape4, sc: _Scaler, v11: bool) -> tuple[GraphBuilder, list[str]]:
    """Backbone and PAN neck of YOLOv8/YOLO11: the builder and the P3, P4, P5 maps the heads read."""
    _check(name, input_shape)
    b = GraphBuilder(name, uniform_weights=True)
    x = b.input("images", input_shape)
    x = _conv(b, _conv(b, x, sc.ch(64), 3, 2), sc.ch(128), 3, 2)
    taps = []
    # (out channels before scaling, repeats, v11 C3k2 expansion, v11 c3k flag in the YAML)
    stages = ((128, 3, 0.25, False), (256, 6, 0.25, False), (512, 6, 0.5, True), (1024, 3, 0.5, True))
    v11_out = (256, 512, 512, 1024)
    for i, (c, n, e, c3k) in enumerate(stages):
        if i > 0:
            x = _conv(b, x, sc.ch(c), 3, 2)
        if v11:
            x = _c2f(b, x, sc.ch(v11_out[i]), sc.n(2), True, e, c3k or sc.c3k_all)
        else:
            x = _c2f(b, x, sc.ch(c), sc.n(n), True)
        taps.append(x)
    x = _sppf(b, x, sc.ch(1024))
    if v11:
        x = _c2psa(b, x, sc.n(2))
    p5 = x

    def block(t: str, c: int, last: bool = False) -> str:
        if v11:
            return _c2f(b, t, sc.ch(c), sc.n(2), True, 0.5, last or sc.c3k_all)
        return _c2f(b, t, sc.ch(c), sc.n(3), False)

    p4 = block(b.concat([b.upsample(p5), taps[2]], axis=1), 512)
    p3 = block(b.concat([b.upsample(p4), taps[1]], axis=1), 256)
    n4 = block(b.concat([_conv(b, p3, sc.ch(256), 3, 2), p4], axis=1), 512)
    n5 = block(b.concat([_conv(b, n4, sc.ch(512), 3, 2), p5], axis=1), 1024, last=True)
    return b, [p3, n4, n5]


def _yolov8_like(name: str, input_shape: Shape4, nc: int, sc: _Scaler, v11: bool) -> Graph:
    b, feats = _yolov8_body(name, input_shape, sc, v11)
    return b.build(_detect_v8(b, feats, nc, legacy=not v11))


def _yolov5_body(name: str, input_shape: Shape4, sc: _Scaler) -> tuple[GraphBuilder, list[str]]:
    """Backbone and PAN neck of YOLOv5 (v6.0+): the builder and the P3, P4, P5 maps the heads read."""
    _check(name, input_shape)
    b = GraphBuilder(name, uniform_weights=True)
    x = b.input("images", input_shape)
    x = _conv(b, x, sc.ch(64), 6, 2, pad=2)
    taps = []
    for c, n in ((128, 3), (256, 6), (512, 9), (1024, 3)):
        x = _c3(b, _conv(b, x, sc.ch(c), 3, 2), sc.ch(c), sc.n(n))
        taps.append(x)
    x = _sppf(b, x, sc.ch(1024))
    h10 = _conv(b, x, sc.ch(512), 1)
    h13 = _c3(b, b.concat([b.upsample(h10), taps[2]], axis=1), sc.ch(512), sc.n(3), False)
    h14 = _conv(b, h13, sc.ch(256), 1)
    p3 = _c3(b, b.concat([b.upsample(h14), taps[1]], axis=1), sc.ch(256), sc.n(3), False)
    p4 = _c3(b, b.concat([_conv(b, p3, sc.ch(256), 3, 2), h14], axis=1), sc.ch(512), sc.n(3), False)
    p5 = _c3(b, b.concat([_conv(b, p4, sc.ch(512), 3, 2), h10], axis=1), sc.ch(1024), sc.n(3), False)
    return b, [p3, p4, p5]


def _yolov5(name: str, input_shape: Shape4, nc: int, sc: _Scaler) -> Graph:
    b, feats = _yolov5_body(name, input_shape, sc)
    return b.build([_head_conv(b, p, 3 * (5 + nc)) for p in feats])


def _make(family: str, scale: str) -> Callable[[Shape4, int], Graph]:
    def builder(input_shape: Shape4, num_classes: int) -> Graph:
        name = f"{family}{scale}"
        if family == "yolov5":
            return _yolov5(name, input_shape, num_classes, _Scaler(*_V5_SCALES[scale]))
        table = _V8_SCALES if family == "yolov8" else _V11_SCALES
        sc = _Scaler(*table[scale], c3k_all=family == "yolo11" and scale == "m")
        return _yolov8_like(name, input_shape, num_classes, sc, v11=family == "yolo11")

    builder.__name__ = f"{family}{scale}"
    return builder


yolov5n, yolov5s, yolov5m = (_make("yolov5", s) for s in "nsm")
yolov8n, yolov8s, yolov8m = (_make("yolov8", s) for s in "nsm")
yolo11n, yolo11s, yolo11m = (_make("yolo11", s) for s in "nsm")


def _region_yolo(b: GraphBuilder, head: str, num_classes: int) -> str:
    """OpenVINO's RegionYolo (do_softmax=0) on a head: the logistic of x, y, objectness and class scores."""
    return b.one(OpKind.UNARY_MATH, [head], A.MathAttrs("region_yolo", alpha=5 + num_classes, beta=4),
                 prefix="region_yolo")


def yolov3_tiny(input_shape: Shape4, num_classes: int, region: int = 1) -> Graph:
    """Darknet yolov3-tiny.cfg: 3x3 conv/BN/leaky + 2x2 max-pool stack, two YOLO levels (strides 32 and 16).

    ``region=1`` (default) ends each head in a RegionYolo layer as OpenVINO's Open Model Zoo ``yolo-v3-tiny-tf``
    IR does (its outputs are ``conv2d_9/BiasAdd/YoloRegion`` and ``conv2d_12/BiasAdd/YoloRegion``, converted with
    the model's ``yolo-v3-tiny-tf.json`` transformations config; open_model_zoo models/public/yolo-v3-tiny-tf):
    the model the OpenVINO benchmarks name ``yolo_v3_tiny`` (performance-benchmarks FAQ: yolo-v3-tiny-tf,
    416x416). Box decoding and NMS stay host post-processing there. ``region=0`` stops at the conv heads."""
    _check("yolov3_tiny", input_shape)
    if region not in (0, 1):
        raise EdgesimError(f"must be 0 or 1, got {region!r}", field="region")
    b = GraphBuilder("yolov3_tiny", uniform_weights=True)
    x = b.input("images", input_shape)
    route8 = x
    for i, c in enumerate((16, 32, 64, 128, 256)):
        x = _conv(b, x, c, 3, act="leaky")
        if i == 4:
            route8 = x
        x = b.maxpool(x, 2, 2)
    x = _conv(b, x, 512, 3, act="leaky")
    # size-2 stride-1 max-pool: Darknet pads one row/column after, so the 13x13 map keeps its size.
    x = b.one(OpKind.MAX_POOL2D, [x], A.PoolAttrs((2, 2), (1, 1), A.Padding(0, 0, 1, 1), A.Layout.NCHW))
    x = _conv(b, x, 1024, 3, act="leaky")
    route13 = _conv(b, x, 256, 1, act="leaky")
    out1 = _head_conv(b, _conv(b, route13, 512, 3, act="leaky"), 3 * (5 + num_classes))
    y = b.upsample(_conv(b, route13, 128, 1, act="leaky"))
    y = _conv(b, b.concat([y, route8], axis=1), 256, 3, act="leaky")
    out2 = _head_conv(b, y, 3 * (5 + num_classes))
    if region:
        out1, out2 = _region_yolo(b, out1, num_classes), _region_yolo(b, out2, num_classes)
    return b.build([out1, out2])
