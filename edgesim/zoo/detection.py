"""Detection and segmentation networks of the vendor tables, built from their published configurations.

- ``ssd_mobilenet_v1``: TF Object Detection API ``ssd_mobilenet_v1_coco`` (300x300): MobileNetV1 taps Conv2d_11
  (19x19x512) and Conv2d_13 (10x10x1024), four extra 1x1/3x3-s2 pairs (512, 256, 256, 128), 1x1 box and class
  predictors, 3 anchors on the first map and 6 elsewhere, 91 classes (background included).
- ``ssd_mobilenet_v2``: the SSDLite variant the Hailo model zoo times under that name (``ssdlite_mobilenet_v2``
  config: MobileNetV2 taps layer_15/expansion_output (19x19x576) and layer_19 (10x10x1280), depthwise-separable
  extras and predictors).
- ``ssd_mobilenet_v2_coco``: TF OD API ``ssd_mobilenet_v2_coco`` (2018_03_29), the "SSD MobileNet v2 (COCO)" that
  OpenVINO (Open Model Zoo), the TensorRT UFF sample and aallan/benchmarking-ml-on-the-edge run: the same body and
  depthwise-separable extras (``use_depthwise: true``) but full 3x3 convolutions as box and class predictors
  (``convolutional_box_predictor { kernel_size: 3 }``; the benchmark's OpenVINO IR has group-1 3x3
  BoxPredictor_*/ClassPredictor convs with 3 x 91 and 6 x 91 outputs). Those predictors hold 14 of its 16.8 M
  parameters and 1.3 of its 1.9 G MACs, 2.5x the SSDLite graph's.
- ``deeplabv3_mobilenet_v2``: TF DeepLab ``mobilenetv2_coco_voc_trainaug`` (rknn_model_zoo's deeplabv3 demo): atrous
  MobileNetV2 to layer_18 at output stride 8 (option ``output_stride=16``), image pooling + 1x1 branch, 1x1
  projection, 21 VOC logits. (No ASPP rates and no decoder: the DeepLab authors drop both for MobileNetV2.)
- ``deeplabv3plus_mobilenet``: the DeepLabV3+ MobileNet Qualcomm AI Hub times (jfzhang95/pytorch-deeplab-xception,
  OS 16): ASPP with rates 6/12/18 and image pooling, a decoder fusing the 1/4-resolution 24-channel features,
  and the model's own bilinear upsampling of the logits to the input size.
- ``efficientdet_d0``: Tan et al. 2020 (automl): EfficientNet-B0 P3-P5, P6/P7 by 1x1 conv + max-pool, three BiFPN
  layers of width 64 with fast normalised fusion, class/box nets of depth 3 with weights shared across levels.

The SSD graphs and efficientdet_d0 end, as the published TF OD API / automl / Open Model Zoo models do, with box
decoding, sigmoid scores and per-class NMS (``ssd_post``; ``postprocess=0`` stops at the box encodings and class
logits). The other graphs stop at
the predictor outputs (DeepLabv3's segmentation logits at 1/8 resolution): their anchor decoding, NMS and mask
upsampling are host post-processing in the vendor demos.
"""

from __future__ import annotations

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.shape_infer import infer_node
from edgesim.ir.tensor import Tensor
from edgesim.zoo import ssd_post
from edgesim.zoo.builder import GraphBuilder
from edgesim.zoo.classic import _B0, _mbconv
from edgesim.zoo.cnn import _MBV1, _MBV2

Shape4 = tuple[int, int, int, int]


def _check_postprocess(postprocess: int) -> None:
    """The ``postprocess`` build option of the detectors: 1 = the published graph's tail, 0 = the heads only."""
    if postprocess not in (0, 1):
        raise EdgesimError(f"must be 0 or 1, got {postprocess!r}", field="postprocess")


def _start(name: str, input_shape: Shape4) -> tuple[GraphBuilder, str]:
    b = GraphBuilder(name, uniform_weights=True)
    return b, b.input("input", input_shape)


def _flat_predictions(b: GraphBuilder, maps: list[str], per_anchor: int) -> str:
    """Per-level (1, A*k, H, W) maps -> (1, sum(H*W*A), k), as the TF/ONNX exports concatenate them."""
    flat = [b.reshape(b.transpose(m, (0, 2, 3, 1)), (1, -1, per_anchor)) for m in maps]
    return b.concat(flat, axis=1)


# --- MobileNet bodies with taps ------------------------------------------------------------------------------------
def _mbv1_body(b: GraphBuilder, x: str) -> list[str]:
    """MobileNetV1 up to Conv2d_13_pointwise; returns [Conv2d_11 output, Conv2d_13 output]."""
    x = b.conv_bn_act(x, 32, 3, 2, act="relu6")
    taps = []
    for i, (cout, stride) in enumerate(_MBV1):
        x = b.act(b.bn(b.dwconv(x, 3, stride)), "relu6")
        x = b.conv_bn_act(x, cout, 1, act="relu6")
        if i in (10, 12):
            taps.append(x)
    return taps


def _mbv2_body(b: GraphBuilder, x: str, output_stride: int = 32, tap_expansion: int | None = None,
               tap_block: int | None = None) -> tuple[str, str | None]:
    """MobileNetV2 blocks (no 1280 head). Strides past ``output_stride`` turn into dilation (TF slim's rule: the
    converted layer keeps the current rate, later layers multiply it). Returns the last block's output and the
    expansion output of block ``tap_expansion`` (TF name layer_{index + 2}/expansion_output) or the output of block
    ``tap_block``."""
    x = b.conv_bn_act(x, 32, 3, 2, act="relu6")
    stride, rate, idx, tap = 2, 1, 0, None
    for t, c, n, s in _MBV2:
        for i in range(n):
            block_stride, block_rate = (s if i == 0 else 1), rate
            if stride * block_stride > output_stride:
                rate *= block_stride
                block_stride = 1
            else:
                stride *= block_stride
            cin = b.shape(x)[1]
            y = b.conv_bn_act(x, cin * t, 1, act="relu6") if t != 1 else x
            if idx == tap_expansion:
                tap = y
            y = b.act(b.bn(b.dwconv(y, 3, block_stride, dilation=block_rate)), "relu6")
            y = b.bn(b.conv(y, c, 1))
            x = b.add(x, y) if block_stride == 1 and cin == c else y
            if idx == tap_block:
                tap = x
            idx += 1
    return x, tap


# --- SSD ----------------------------------------------------------------------------------------------------------
_SSD_EXTRA_DEPTHS = (512, 256, 256, 128)
_SSD_ANCHORS = (3, 6, 6, 6, 6, 6)


def _ssd(name: str, input_shape: Shape4, num_classes: int, lite: bool, postprocess: int,
         full_predictors: bool = False) -> Graph:
    """``lite``: MobileNetV2 body with depthwise-separable extras (else MobileNetV1 with full 3x3 extras);
    ``full_predictors``: 3x3 conv predictors (ssd_mobilenet_v2_coco) instead of the lite depthwise + 1x1 pair."""
    _check_postprocess(postprocess)
    b, x = _start(name, input_shape)
    if lite:
        last, tap = _mbv2_body(b, x, tap_expansion=13)
        assert tap is not None
        feats = [tap, b.conv_bn_act(last, 1280, 1, act="relu6")]
    else:
        feats = _mbv1_body(b, x)
    y = feats[-1]
    for depth in _SSD_EXTRA_DEPTHS:
        y = b.conv_bn_act(y, depth // 2, 1, act="relu6")
        if lite:  # depthwise 3x3/2 then pointwise (SSDLite)
            y = b.conv_bn_act(b.act(b.bn(b.dwconv(y, 3, 2)), "relu6"), depth, 1, act="relu6")
        else:
            y = b.conv_bn_act(y, depth, 3, 2, act="relu6")
        feats.append(y)
    boxes: list[str] = []
    classes: list[str] = []
    for f, anchors in zip(feats, _SSD_ANCHORS, strict=True):
        for out, per_anchor in ((boxes, 4), (classes, num_classes)):
            if full_predictors:
                out.append(b.conv(f, anchors * per_anchor, 3, bias=True))
                continue
            z = b.act(b.bn(b.dwconv(f, 3)), "relu6") if lite else f
            out.append(b.conv(z, anchors * per_anchor, 1, bias=True))
    encodings, logits = _flat_predictions(b, boxes, 4), _flat_predictions(b, classes, num_classes)
    if not postprocess:
        return b.build([encodings, logits])
    grids = [(b.shape(f)[2], b.shape(f)[3]) for f in feats]
    cfg = (ssd_post.SSD_MOBILENET_V2_POST if full_predictors else ssd_post.SSDLITE_MOBILENET_V2_POST) if lite \
        else ssd_post.SSD_MOBILENET_V1_POST
    return b.build([ssd_post.postprocess(b, encodings, logits, ssd_post.ssd_anchors(grids), cfg)])


def ssd_mobilenet_v1(input_shape: Shape4, num_classes: int, postprocess: int = 1) -> Graph:
    """``postprocess=0`` stops at the box encodings and class logits (the heads whose MACs are published)."""
    return _ssd("ssd_mobilenet_v1", input_shape, num_classes, lite=False, postprocess=postprocess)


def ssd_mobilenet_v2(input_shape: Shape4, num_classes: int, postprocess: int = 1) -> Graph:
    return _ssd("ssd_mobilenet_v2", input_shape, num_classes, lite=True, postprocess=postprocess)


def ssd_mobilenet_v2_coco(input_shape: Shape4, num_classes: int, postprocess: int = 1) -> Graph:
    """TF OD API ssd_mobilenet_v2_coco: the SSDLite body and extras with full 3x3 conv predictors."""
    return _ssd("ssd_mobilenet_v2_coco", input_shape, num_classes, lite=True, postprocess=postprocess,
                full_predictors=True)


# --- DeepLab v3 -----------------------------------------------------------------------------------------------------
def deeplabv3_mobilenet_v2(input_shape: Shape4, num_classes: int, output_stride: int = 8) -> Graph:
    """``output_stride`` 8 is rknn_model_zoo's deeplabv3 demo (65x65 logits at 513x513); 16 is the configuration
    whose 2.75 B multiply-adds the MobileNetV2 paper lists (the last two stages do a quarter of the work)."""
    if output_stride not in (8, 16, 32):
        raise EdgesimError(f"must be 8, 16 or 32, got {output_stride!r}", field="output_stride")
    b, x = _start("deeplabv3_mobilenet_v2", input_shape)
    feat, _ = _mbv2_body(b, x, output_stride=output_stride)
    _, _, h, w = b.shape(feat)
    pooled = b.conv_bn_act(b.gap(feat), 256, 1)
    pooled = b.resize(pooled, (h, w), mode="linear", align_corners=True)
    y = b.concat([pooled, b.conv_bn_act(feat, 256, 1)], axis=1)
    y = b.conv_bn_act(y, 256, 1)
    return b.build([b.conv(y, num_classes, 1, bias=True)])


def deeplabv3plus_mobilenet(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("deeplabv3plus_mobilenet", input_shape)
    feat, low = _mbv2_body(b, x, output_stride=16, tap_block=2)
    assert low is not None
    _, _, h, w = b.shape(feat)
    branches = [b.conv_bn_act(feat, 256, 1)]
    for rate in (6, 12, 18):
        branches.append(b.act(b.bn(b.conv(feat, 256, 3, dilation=rate)), "relu"))
    pooled = b.conv_bn_act(b.gap(feat), 256, 1)
    branches.append(b.resize(pooled, (h, w), mode="linear", align_corners=True))
    y = b.conv_bn_act(b.concat(branches, axis=1), 256, 1)
    low = b.conv_bn_act(low, 48, 1)
    _, _, lh, lw = b.shape(low)
    y = b.concat([b.resize(y, (lh, lw), mode="linear", align_corners=True), low], axis=1)
    y = b.conv_bn_act(b.conv_bn_act(y, 256, 3), 256, 3)
    y = b.conv(y, num_classes, 1, bias=True)
    return b.build([b.resize(y, (input_shape[2], input_shape[3]), mode="linear", align_corners=True)])


# --- EfficientDet-D0 ------------------------------------------------------------------------------------------------
_FPN_WIDTH, _FPN_LAYERS, _HEAD_DEPTH, _EFFDET_ANCHORS = 64, 3, 3, 9


class _SharedSepConv:
    """A depthwise-separable conv whose weights several levels share (EfficientDet's class/box nets)."""

    def __init__(self, b: GraphBuilder, cin: int, cout: int) -> None:
        name = b.uid("shared_sepconv")
        self.dw = b.const(f"{name}_dw_w", b.uniform((cin, 1, 3, 3), (3.0 * 2.0 / 9) ** 0.5))
        self.pw = b.const(f"{name}_pw_w", b.uniform((cout, cin, 1, 1), (3.0 / cin) ** 0.5))
        self.pw_b = b.const(f"{name}_pw_b", np.zeros(cout, np.float32))

    def __call__(self, b: GraphBuilder, x: str) -> str:
        c = b.shape(x)[1]
        y = _node(b, OpKind.DEPTHWISE_CONV2D, [x, self.dw], A.ConvAttrs((3, 3), padding=A.Padding(1, 1, 1, 1),
                                                                        groups=c, layout=A.Layout.NCHW))
        return _node(b, OpKind.CONV2D, [y, self.pw, self.pw_b], A.ConvAttrs((1, 1), layout=A.Layout.NCHW))


def _node(b: GraphBuilder, op: OpKind, inputs: list[str], attrs: A.ConvAttrs) -> str:
    name = b.uid("shconv")
    out = f"{name}_out"
    node = Node(name, op, tuple(inputs), (out,), attrs)
    (shape,) = infer_node(node, [b.tensors[i] for i in inputs])
    b.tensors[out] = Tensor(out, shape, b.tensors[inputs[0]].dtype)
    b.nodes.append(node)
    return out


def _sepconv(b: GraphBuilder, x: str, cout: int) -> str:
    return b.conv(b.dwconv(x, 3), cout, 1, bias=True)


def _fuse(b: GraphBuilder, xs: list[str]) -> str:
    """Fast normalised fusion with the learned weights folded to constants (w_i / (sum w + eps)), then swish,
    separable conv and BN, as one BiFPN node."""
    weight = 1.0 / (len(xs) + 1e-4)
    scaled = [b.mul(x, b.const(b.uid("fuse_w"), np.array([weight], np.float32))) for x in xs]
    y = scaled[0]
    for s in scaled[1:]:
        y = b.add(y, s)
    return b.bn(_sepconv(b, b.act(y, "silu"), _FPN_WIDTH), epsilon=1e-3)


def _bifpn_layer(b: GraphBuilder, p: list[str], first: bool) -> list[str]:
    """One BiFPN layer over P3..P7. The first layer projects backbone maps to the FPN width with its own 1x1
    conv + BN for each node that reads them (top-down and bottom-up reads get separate projections)."""
    def lateral(x: str) -> str:
        return b.bn(b.conv(x, _FPN_WIDTH, 1, bias=True), epsilon=1e-3) if first else x

    def down(x: str) -> str:
        return b.maxpool(x, 3, 2, pad=1)

    p3, p4, p5, p6, p7 = p
    td6 = _fuse(b, [p6, b.upsample(p7)])
    td5 = _fuse(b, [lateral(p5), b.upsample(td6)])
    td4 = _fuse(b, [lateral(p4), b.upsample(td5)])
    out3 = _fuse(b, [lateral(p3), b.upsample(td4)])
    out4 = _fuse(b, [lateral(p4), td4, down(out3)])
    out5 = _fuse(b, [lateral(p5), td5, down(out4)])
    out6 = _fuse(b, [p6, td6, down(out5)])
    out7 = _fuse(b, [p7, down(out6)])
    return [out3, out4, out5, out6, out7]


def _effdet_head(b: GraphBuilder, feats: list[str], per_anchor: int) -> list[str]:
    convs = [_SharedSepConv(b, _FPN_WIDTH, _FPN_WIDTH) for _ in range(_HEAD_DEPTH)]
    final = _SharedSepConv(b, _FPN_WIDTH, _EFFDET_ANCHORS * per_anchor)
    outs = []
    for f in feats:
        y = f
        for conv in convs:  # batch norms are per level, convolutions shared
            y = b.act(b.bn(conv(b, y), epsilon=1e-3), "silu")
        outs.append(final(b, y))
    return outs


def efficientdet_d0(input_shape: Shape4, num_classes: int, postprocess: int = 1) -> Graph:
    """``postprocess=0`` stops at the box encodings and class logits (automl's ``model_inspect`` without its
    post-processing); the default ends in OpenVINO's DetectionOutput, as the benchmarked OMZ model does."""
    _check_postprocess(postprocess)
    _, _, h, w = input_shape
    if h % 128 or w % 128:
        raise EdgesimError(f"efficientdet_d0 needs an input divisible by 128 (P7), got {h}x{w}", field="input_shape")
    b, x = _start("efficientdet_d0", input_shape)
    x = b.conv_bn_act(x, 32, 3, 2, act="silu")
    taps = []
    for stage, (e, k, s, c, n) in enumerate(_B0):
        for i in range(n):
            x = _mbconv(b, x, e, k, s if i == 0 else 1, c)
        if stage in (2, 4, 6):
            taps.append(x)
    p6 = b.maxpool(b.bn(b.conv(taps[2], _FPN_WIDTH, 1, bias=True), epsilon=1e-3), 3, 2, pad=1)
    feats = [*taps, p6, b.maxpool(p6, 3, 2, pad=1)]
    for layer in range(_FPN_LAYERS):
        feats = _bifpn_layer(b, feats, first=layer == 0)
    classes = _effdet_head(b, feats, num_classes)
    boxes = _effdet_head(b, feats, 4)
    encodings, logits = _flat_predictions(b, boxes, 4), _flat_predictions(b, classes, num_classes)
    if not postprocess:
        return b.build([encodings, logits])
    anchors = ssd_post.effdet_anchors([(b.shape(f)[2], b.shape(f)[3]) for f in feats], (h, w))
    return b.build([ssd_post.postprocess(b, encodings, logits, anchors, ssd_post.EFFICIENTDET_POST)])
