"""Convolutional zoo architectures, as published (channel counts, strides, expansions, SE, activations)."""

from __future__ import annotations

from collections.abc import Sequence

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.zoo.builder import GraphBuilder, make_divisible, same_padding
from edgesim.zoo.spaces import search_space

Shape4 = tuple[int, int, int, int]


def _start(name: str, input_shape: Shape4) -> tuple[GraphBuilder, str]:
    b = GraphBuilder(name)
    return b, b.input("input", input_shape)


# --- MobileNet V1 (Howard et al. 2017) -------------------------------------------------------------------------
_MBV1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
         (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def mobilenet_v1(input_shape: Shape4, num_classes: int, alpha: float = 1.0) -> Graph:
    if not 0.0 < alpha <= 4.0:
        raise EdgesimError(f"alpha must be in (0, 4], got {alpha}", field="alpha")
    b, x = _start(f"mobilenet_v1_{alpha}", input_shape)
    x = b.conv_bn_act(x, int(32 * alpha), 3, 2, act="relu6")
    for cout, stride in _MBV1:
        x = b.act(b.bn(b.dwconv(x, 3, stride)), "relu6")
        x = b.conv_bn_act(x, int(cout * alpha), 1, act="relu6")
    return b.build([b.classifier(x, num_classes)])


# --- MobileNet V2 (Sandler et al. 2018) ------------------------------------------------------------------------
_MBV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _inverted_residual(b: GraphBuilder, x: str, cout: int, k: int, stride: int, mid: int, act: str,
                       se: bool = False) -> str:
    cin = b.shape(x)[1]
    y = x
    if mid != cin:
        y = b.conv_bn_act(y, mid, 1, act=act)
    y = b.act(b.bn(b.dwconv(y, k, stride)), act)
    if se:
        y = b.squeeze_excite(y, make_divisible(mid / 4, 8))
    y = b.bn(b.conv(y, cout, 1))
    if stride == 1 and cin == cout:
        y = b.add(x, y)
    return y


def mobilenet_v2(input_shape: Shape4, num_classes: int, alpha: float = 1.0) -> Graph:
    if not 0.0 < alpha <= 4.0:
        raise EdgesimError(f"alpha must be in (0, 4], got {alpha}", field="alpha")
    b, x = _start(f"mobilenet_v2_{alpha}", input_shape)
    x = b.conv_bn_act(x, make_divisible(32 * alpha), 3, 2, act="relu6")
    for t, c, n, s in _MBV2:
        cout = make_divisible(c * alpha)
        for i in range(n):
            cin = b.shape(x)[1]
            x = _inverted_residual(b, x, cout, 3, s if i == 0 else 1, cin * t, "relu6")
    x = b.conv_bn_act(x, make_divisible(1280 * max(1.0, alpha)), 1, act="relu6")
    return b.build([b.classifier(x, num_classes)])


# --- MobileNet V3 (Howard et al. 2019) -------------------------------------------------------------------------
# kernel, expanded channels, out channels, SE, activation, stride
_MBV3_SMALL = [
    (3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hswish", 2), (5, 240, 40, True, "hswish", 1), (5, 240, 40, True, "hswish", 1),
    (5, 120, 48, True, "hswish", 1), (5, 144, 48, True, "hswish", 1), (5, 288, 96, True, "hswish", 2),
    (5, 576, 96, True, "hswish", 1), (5, 576, 96, True, "hswish", 1),
]


def _mbv3_head(b: GraphBuilder, x: str, last_conv: int, last_fc: int, num_classes: int) -> str:
    x = b.conv_bn_act(x, last_conv, 1, act="hswish")
    x = b.flatten(b.gap(x))
    x = b.act(b.fc(x, last_fc), "hswish")
    return b.fc(x, num_classes)


def mobilenet_v3_small(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("mobilenet_v3_small", input_shape)
    x = b.conv_bn_act(x, 16, 3, 2, act="hswish")
    for k, mid, cout, se, act, stride in _MBV3_SMALL:
        x = _inverted_residual(b, x, cout, k, stride, mid, act, se)
    return b.build([_mbv3_head(b, x, 576, 1024, num_classes)])


# The once-for-all MobileNetV3 space (Cai et al. 2020) is data: workloads/ofa_mobilenet_v3.yaml.
OFA_SPACE = "ofa_mobilenet_v3"


def _check_choices(name: str, values: Sequence[int] | None, length: int, allowed: tuple[int, ...],
                   default: tuple[int, ...]) -> tuple[int, ...]:
    if values is None:
        return default
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise EdgesimError(f"must be a list of {length} integers, got {values!r}", field=name)
    if len(values) != length:
        raise EdgesimError(f"must have {length} entries, got {len(values)}", field=name)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int) or v not in allowed:
            raise EdgesimError(f"entry {i} is {v!r}; allowed values are {list(allowed)}", field=name)
        out.append(int(v))
    return tuple(out)


def mobilenet_v3_large(input_shape: Shape4, num_classes: int, kernel_sizes: Sequence[int] | None = None,
                       expand_ratios: Sequence[int] | None = None, depths: Sequence[int] | None = None) -> Graph:
    sp = search_space(OFA_SPACE)
    picked = []
    for name, value in (("kernel_sizes", kernel_sizes), ("expand_ratios", expand_ratios), ("depths", depths)):
        c = sp.choice(name)
        picked.append(_check_choices(name, value, c.length, c.values, tuple(sp.defaults[name])))
    ks, es, ds = picked
    b, x = _start("mobilenet_v3_large", input_shape)
    x = b.conv_bn_act(x, 16, 3, 2, act="hswish")
    x = _inverted_residual(b, x, 16, 3, 1, 16, "relu")  # fixed first block, expansion 1
    for s, stage in enumerate(sp.stages):
        for i in range(ds[s]):
            j = s * sp.blocks_per_stage + i
            cin = b.shape(x)[1]
            x = _inverted_residual(b, x, stage.width, ks[j], stage.stride if i == 0 else 1,
                                   make_divisible(cin * es[j], 8), stage.act, stage.se)
    return b.build([_mbv3_head(b, x, 960, 1280, num_classes)])


# --- ResNets (He et al. 2016; torchvision v1.5 bottleneck) -----------------------------------------------------
def _basic_block(b: GraphBuilder, x: str, cout: int, stride: int, bias: bool = False) -> str:
    cin = b.shape(x)[1]
    y = b.act(b.bn(b.conv(x, cout, 3, stride, bias=bias)), "relu")
    y = b.bn(b.conv(y, cout, 3, 1, bias=bias))
    short = x
    if stride != 1 or cin != cout:
        short = b.conv(x, cout, 1, stride, bias=bias, padding=A.Padding())
        if not bias:
            short = b.bn(short)
    return b.act(b.add(short, y), "relu")


def _bottleneck(b: GraphBuilder, x: str, width: int, stride: int) -> str:
    cin, cout = b.shape(x)[1], width * 4
    y = b.conv_bn_act(x, width, 1)
    y = b.conv_bn_act(y, width, 3, stride)
    y = b.bn(b.conv(y, cout, 1))
    short = x
    if stride != 1 or cin != cout:
        short = b.bn(b.conv(x, cout, 1, stride))
    return b.act(b.add(short, y), "relu")


def resnet8(input_shape: Shape4, num_classes: int) -> Graph:
    """The MLPerf Tiny image-classification ResNet (Keras: biased convs, BN, identity/1x1 shortcuts)."""
    b, x = _start("resnet8", input_shape)
    x = b.act(b.bn(b.conv(x, 16, 3, bias=True)), "relu")
    # Projection shortcuts are a biased 1x1 conv without BN, as in the reference Keras model.
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        x = _basic_block(b, x, cout, stride, bias=True)
    return b.build([b.classifier(x, num_classes)])


def _resnet(name: str, input_shape: Shape4, num_classes: int, blocks: tuple[int, ...], bottleneck: bool,
            uniform_weights: bool = False) -> Graph:
    b = GraphBuilder(name, uniform_weights=uniform_weights)
    x = b.input("input", input_shape)
    x = b.conv_bn_act(x, 64, 7, 2)
    x = b.maxpool(x, 3, 2, pad=1)
    for stage, n in enumerate(blocks):
        width = 64 * 2**stage
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            x = _bottleneck(b, x, width, stride) if bottleneck else _basic_block(b, x, width, stride)
    return b.build([b.classifier(x, num_classes)])


def resnet18(input_shape: Shape4, num_classes: int) -> Graph:
    return _resnet("resnet18", input_shape, num_classes, (2, 2, 2, 2), bottleneck=False)


def resnet50(input_shape: Shape4, num_classes: int) -> Graph:
    return _resnet("resnet50", input_shape, num_classes, (3, 4, 6, 3), bottleneck=True)


# --- EfficientNet-Lite0 (no SE, ReLU6, fixed stem/head) ----------------------------------------------------------
# kernel, stride, expansion, out channels, repeats
_EFF_LITE0 = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3),
              (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]


def efficientnet_lite0(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("efficientnet_lite0", input_shape)
    x = b.conv_bn_act(x, 32, 3, 2, act="relu6")
    for k, s, e, c, n in _EFF_LITE0:
        for i in range(n):
            cin = b.shape(x)[1]
            x = _inverted_residual(b, x, c, k, s if i == 0 else 1, cin * e, "relu6")
    x = b.conv_bn_act(x, 1280, 1, act="relu6")
    return b.build([b.classifier(x, num_classes)])


# --- SqueezeNet 1.1 (Iandola et al. 2016, torchvision variant) ---------------------------------------------------
def _fire(b: GraphBuilder, x: str, squeeze: int, expand: int) -> str:
    s = b.act(b.conv(x, squeeze, 1, bias=True), "relu")
    e1 = b.act(b.conv(s, expand, 1, bias=True), "relu")
    e3 = b.act(b.conv(s, expand, 3, bias=True), "relu")
    return b.concat([e1, e3], axis=1)


def squeezenet(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("squeezenet1_1", input_shape)
    x = b.act(b.conv(x, 64, 3, 2, bias=True, padding=A.Padding()), "relu")
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    x = _fire(b, x, 16, 64)
    x = _fire(b, x, 16, 64)
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    x = _fire(b, x, 32, 128)
    x = _fire(b, x, 32, 128)
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    for sq, ex in ((48, 192), (48, 192), (64, 256), (64, 256)):
        x = _fire(b, x, sq, ex)
    x = b.act(b.conv(x, num_classes, 1, bias=True), "relu")  # SqueezeNet classifies with a 1x1 conv
    return b.build([b.flatten(b.gap(x))])


def squeezenet1_0(input_shape: Shape4, num_classes: int) -> Graph:
    """SqueezeNet 1.0 (Iandola et al. 2016, Table 1): 7x7/2 96-channel stem, pools after fire4 and fire8; ~2.4x
    the MACs of 1.1 at the same accuracy (torchvision squeezenet1_0)."""
    b, x = _start("squeezenet1_0", input_shape)
    x = b.act(b.conv(x, 96, 7, 2, bias=True, padding=A.Padding()), "relu")
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    for sq, ex in ((16, 64), (16, 64), (32, 128)):
        x = _fire(b, x, sq, ex)
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    for sq, ex in ((32, 128), (48, 192), (48, 192), (64, 256)):
        x = _fire(b, x, sq, ex)
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    x = _fire(b, x, 64, 256)
    x = b.act(b.conv(x, num_classes, 1, bias=True), "relu")
    return b.build([b.flatten(b.gap(x))])


# --- DS-CNN (MLPerf Tiny keyword spotting) -----------------------------------------------------------------------
def ds_cnn(input_shape: Shape4, num_classes: int) -> Graph:
    """MLPerf Tiny KWS DS-CNN: 10x4/2 conv to 64 channels, four depthwise-separable blocks, softmax head."""
    b, x = _start("ds_cnn", input_shape)
    _, _, h, w = input_shape
    (pt, pb), (pl, pr) = same_padding(h, 10, 2), same_padding(w, 4, 2)
    x = b.act(b.bn(b.conv(x, 64, (10, 4), (2, 2), bias=True, padding=A.Padding(pt, pl, pb, pr))), "relu")
    for _ in range(4):
        x = b.act(b.bn(b.dwconv(x, 3, 1, bias=True)), "relu")
        x = b.act(b.bn(b.conv(x, 64, 1, bias=True)), "relu")
    logits = b.classifier(x, num_classes)
    return b.build([b.one(OpKind.SOFTMAX, [logits], A.SoftmaxAttrs(axis=-1))])
