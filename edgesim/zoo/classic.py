"""Classification CNNs of the vendor tables, as torchvision defines them: ResNet-34, EfficientNet-B0, DenseNet-121,
GoogLeNet (Inception v1) and Inception v3 (eval mode: no auxiliary classifiers).

Sources: He et al. 2016 Table 1; Tan & Le 2019 Table 1; Huang et al. 2017 Table 1; Szegedy et al. 2015 Table 1
(with torchvision's and TF-slim's 3x3 kernel in the "5x5" branch); Szegedy et al. 2016 (torchvision inception.py).
"""

from __future__ import annotations

from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.zoo.builder import GraphBuilder
from edgesim.zoo.cnn import _resnet

Shape4 = tuple[int, int, int, int]
KH = int | tuple[int, int]


def _start(name: str, input_shape: Shape4) -> tuple[GraphBuilder, str]:
    b = GraphBuilder(name, uniform_weights=True)
    return b, b.input("input", input_shape)


def _cbr(b: GraphBuilder, x: str, c: int, k: KH, s: int = 1, pad: KH | None = None, act: str = "relu") -> str:
    """Conv (no bias) + BN + activation with explicit (symmetric) padding; default 'same' for stride 1."""
    kh, kw = (k, k) if isinstance(k, int) else k
    if pad is None:
        ph, pw = (kh - 1) // 2, (kw - 1) // 2
    else:
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
    return b.act(b.bn(b.conv(x, c, (kh, kw), s, padding=A.Padding(ph, pw, ph, pw)), epsilon=1e-3), act)


def _avgpool(b: GraphBuilder, x: str, k: int, s: int, pad: int = 0) -> str:
    return b.one(OpKind.AVG_POOL2D, [x], A.PoolAttrs((k, k), (s, s), A.Padding(pad, pad, pad, pad), A.Layout.NCHW))


def resnet34(input_shape: Shape4, num_classes: int) -> Graph:
    return _resnet("resnet34", input_shape, num_classes, (3, 4, 6, 3), bottleneck=False, uniform_weights=True)


# --- EfficientNet-B0 ----------------------------------------------------------------------------------------------
# expansion, kernel, stride, out channels, repeats (Tan & Le 2019, Table 1)
_B0 = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
       (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def _mbconv(b: GraphBuilder, x: str, expand: int, k: int, stride: int, cout: int) -> str:
    """MBConv with squeeze-and-excite (squeeze = input channels / 4, SiLU, sigmoid gate), SiLU everywhere."""
    cin = b.shape(x)[1]
    y = b.conv_bn_act(x, cin * expand, 1, act="silu") if expand != 1 else x
    y = b.act(b.bn(b.dwconv(y, k, stride)), "silu")
    s = b.act(b.conv(b.gap(y), max(1, cin // 4), 1, bias=True), "silu")
    y = b.mul(y, b.act(b.conv(s, b.shape(y)[1], 1, bias=True), "sigmoid"))
    y = b.bn(b.conv(y, cout, 1))
    return b.add(x, y) if stride == 1 and cin == cout else y


def efficientnet_b0(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("efficientnet_b0", input_shape)
    x = b.conv_bn_act(x, 32, 3, 2, act="silu")
    for e, k, s, c, n in _B0:
        for i in range(n):
            x = _mbconv(b, x, e, k, s if i == 0 else 1, c)
    x = b.conv_bn_act(x, 1280, 1, act="silu")
    return b.build([b.classifier(x, num_classes)])


# --- DenseNet-121 -------------------------------------------------------------------------------------------------
def densenet121(input_shape: Shape4, num_classes: int) -> Graph:
    """Growth 32, blocks (6, 12, 24, 16), bottleneck 4*growth, transitions halve the channels."""
    growth = 32
    b, x = _start("densenet121", input_shape)
    x = b.maxpool(b.conv_bn_act(x, 64, 7, 2), 3, 2, pad=1)
    for i, layers in enumerate((6, 12, 24, 16)):
        for _ in range(layers):
            # pre-activation dense layer: BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, concatenated onto the block input
            y = b.conv(b.act(b.bn(x), "relu"), 4 * growth, 1)
            y = b.conv(b.act(b.bn(y), "relu"), growth, 3)
            x = b.concat([x, y], axis=1)
        if i < 3:
            x = b.conv(b.act(b.bn(x), "relu"), b.shape(x)[1] // 2, 1)
            x = _avgpool(b, x, 2, 2)
    return b.build([b.classifier(b.act(b.bn(x), "relu"), num_classes)])


# --- GoogLeNet / Inception v1 ---------------------------------------------------------------------------------------
# 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (a 3x3 in torchvision and TF-slim), pool projection
_V1 = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "4a": (192, 96, 208, 16, 48, 64),
       "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
       "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
       "5b": (384, 192, 384, 48, 128, 128)}


def _inception_v1_block(b: GraphBuilder, x: str, cfg: tuple[int, ...]) -> str:
    c1, r3, c3, r5, c5, pp = cfg
    b1 = _cbr(b, x, c1, 1)
    b2 = _cbr(b, _cbr(b, x, r3, 1), c3, 3)
    b3 = _cbr(b, _cbr(b, x, r5, 1), c5, 3)
    b4 = _cbr(b, b.maxpool(x, 3, 1, pad=1, ceil_mode=True), pp, 1)
    return b.concat([b1, b2, b3, b4], axis=1)


def inception_v1(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("inception_v1", input_shape)
    x = b.maxpool(_cbr(b, x, 64, 7, 2, pad=3), 3, 2, ceil_mode=True)
    x = b.maxpool(_cbr(b, _cbr(b, x, 64, 1), 192, 3), 3, 2, ceil_mode=True)
    for name in ("3a", "3b"):
        x = _inception_v1_block(b, x, _V1[name])
    x = b.maxpool(x, 3, 2, ceil_mode=True)
    for name in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception_v1_block(b, x, _V1[name])
    x = b.maxpool(x, 2, 2, ceil_mode=True)
    for name in ("5a", "5b"):
        x = _inception_v1_block(b, x, _V1[name])
    return b.build([b.classifier(x, num_classes)])


# --- Inception v3 -----------------------------------------------------------------------------------------------
def _inc_a(b: GraphBuilder, x: str, pool_features: int) -> str:
    b1 = _cbr(b, x, 64, 1)
    b5 = _cbr(b, _cbr(b, x, 48, 1), 64, 5)
    b3 = _cbr(b, _cbr(b, _cbr(b, x, 64, 1), 96, 3), 96, 3)
    bp = _cbr(b, _avgpool(b, x, 3, 1, 1), pool_features, 1)
    return b.concat([b1, b5, b3, bp], axis=1)


def _inc_b(b: GraphBuilder, x: str) -> str:
    b3 = _cbr(b, x, 384, 3, 2, pad=0)
    bd = _cbr(b, _cbr(b, _cbr(b, x, 64, 1), 96, 3), 96, 3, 2, pad=0)
    return b.concat([b3, bd, b.maxpool(x, 3, 2)], axis=1)


def _inc_c(b: GraphBuilder, x: str, c7: int) -> str:
    b1 = _cbr(b, x, 192, 1)
    b7 = _cbr(b, _cbr(b, _cbr(b, x, c7, 1), c7, (1, 7)), 192, (7, 1))
    bd = _cbr(b, x, c7, 1)
    for c, k in ((c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7))):
        bd = _cbr(b, bd, c, k)
    bp = _cbr(b, _avgpool(b, x, 3, 1, 1), 192, 1)
    return b.concat([b1, b7, bd, bp], axis=1)


def _inc_d(b: GraphBuilder, x: str) -> str:
    b3 = _cbr(b, _cbr(b, x, 192, 1), 320, 3, 2, pad=0)
    b7 = _cbr(b, _cbr(b, _cbr(b, x, 192, 1), 192, (1, 7)), 192, (7, 1))
    b7 = _cbr(b, b7, 192, 3, 2, pad=0)
    return b.concat([b3, b7, b.maxpool(x, 3, 2)], axis=1)


def _inc_e(b: GraphBuilder, x: str) -> str:
    b1 = _cbr(b, x, 320, 1)
    b3 = _cbr(b, x, 384, 1)
    b3 = b.concat([_cbr(b, b3, 384, (1, 3)), _cbr(b, b3, 384, (3, 1))], axis=1)
    bd = _cbr(b, _cbr(b, x, 448, 1), 384, 3)
    bd = b.concat([_cbr(b, bd, 384, (1, 3)), _cbr(b, bd, 384, (3, 1))], axis=1)
    bp = _cbr(b, _avgpool(b, x, 3, 1, 1), 192, 1)
    return b.concat([b1, b3, bd, bp], axis=1)


def inception_v3(input_shape: Shape4, num_classes: int) -> Graph:
    b, x = _start("inception_v3", input_shape)
    x = _cbr(b, _cbr(b, _cbr(b, x, 32, 3, 2, pad=0), 32, 3, pad=0), 64, 3)
    x = b.maxpool(x, 3, 2)
    x = b.maxpool(_cbr(b, _cbr(b, x, 80, 1), 192, 3, pad=0), 3, 2)
    for pf in (32, 64, 64):
        x = _inc_a(b, x, pf)
    x = _inc_b(b, x)
    for c7 in (128, 160, 160, 192):
        x = _inc_c(b, x, c7)
    x = _inc_e(b, _inc_e(b, _inc_d(b, x)))
    return b.build([b.classifier(x, num_classes)])
