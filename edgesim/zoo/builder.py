"""A small graph builder so zoo architectures read as short code (NCHW, float32, seeded random weights)."""

from __future__ import annotations

import functools
import math
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.shape_infer import infer_node
from edgesim.ir.tensor import Tensor

NCHW = A.Layout.NCHW


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Channel rounding used by the MobileNet family (never rounds down by more than 10%)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding (extra row/column goes after), for Keras-defined models."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


# Seeded He-normal weights by (model, seed, layer name, shape, fan-in, gain), shared by every build that asks for
# them: a search over a supernet's subnets rebuilds the same layers thousands of times (as an OFA supernet shares
# its weights). Bounded by bytes; arrays are read-only since builds share them.
_WEIGHTS: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
_WEIGHT_CACHE_BYTES = 256 << 20
_weight_cache_bytes = 0


@functools.lru_cache(maxsize=1024)
def filled(count: int, value: float) -> np.ndarray:
    """A read-only float32 vector of ``value`` (BatchNorm's identity parameters), shared by every build."""
    out = np.full(count, value, np.float32)
    out.flags.writeable = False
    return out


def he_weights(key: tuple[object, ...]) -> np.ndarray:
    """He-normal float32 weights (variance gain / fan-in keeps activations finite through ReLU stacks), from a
    generator seeded by ``key`` = (model, seed, layer, shape, fan_in, gain): the same layer gets the same weights
    in any build, whatever was built before."""
    global _weight_cache_bytes
    hit = _WEIGHTS.get(key)
    if hit is not None:
        _WEIGHTS.move_to_end(key)
        return hit
    _, _, _, shape, fan_in, gain = key
    assert isinstance(shape, tuple) and isinstance(fan_in, int) and isinstance(gain, float)
    rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
    w = rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(gain / max(fan_in, 1)))
    w.flags.writeable = False
    _WEIGHTS[key] = w
    _weight_cache_bytes += w.nbytes
    while _weight_cache_bytes > _WEIGHT_CACHE_BYTES and len(_WEIGHTS) > 1:
        _weight_cache_bytes -= _WEIGHTS.popitem(last=False)[1].nbytes
    return w


class GraphBuilder:
    """Appends nodes and tensors; every method returns the name of the tensor it produced.

    Shapes come from the IR's own shape rules, so the builder and ``verify_graph`` cannot disagree.
    """

    def __init__(self, name: str, seed: int = 0, uniform_weights: bool = False) -> None:
        self.name = name
        self.seed = seed
        # The large detectors and transformers (tens of millions of weights) take their weights as read-only
        # windows into one uniform random pool per weight scale, so a build draws a few million numbers, not
        # every weight, and BERT-base costs ~100 MB less memory. Per-tensor statistics are unchanged.
        self.uniform_weights = uniform_weights
        self._pools: dict[float, np.ndarray] = {}
        self._rng: np.random.Generator | None = None
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self._counts: dict[str, int] = {}

    @property
    def rng(self) -> np.random.Generator:
        """The build's own seeded generator, made on first use (most builds take cached weights and need none)."""
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    # -- bookkeeping ---------------------------------------------------------------------------------
    def uid(self, prefix: str) -> str:
        n = self._counts.get(prefix, 0)
        self._counts[prefix] = n + 1
        return f"{prefix}_{n}"

    def shape(self, t: str) -> tuple[int, ...]:
        return self.tensors[t].shape

    def input(self, name: str, shape: tuple[int, ...]) -> str:
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), DType.FP32)
        self.inputs.append(name)
        return name

    def const(self, name: str, data: np.ndarray) -> str:
        arr = data if data.dtype == np.float32 and data.flags.c_contiguous else np.ascontiguousarray(data, np.float32)
        self.tensors[name] = Tensor(name, arr.shape, DType.FP32, data=arr)
        return name

    def node(self, op: OpKind, inputs: list[str], attrs: Any, prefix: str | None = None,
             num_outputs: int = 1) -> list[str]:
        return self._emit(self.uid(prefix or op.value.lower()), op, inputs, attrs, num_outputs)

    def _emit(self, name: str, op: OpKind, inputs: list[str], attrs: Any, num_outputs: int = 1) -> list[str]:
        """Append node ``name`` (already named: a layer names its weights after it first) with float outputs of
        the inferred shapes."""
        outs = [f"{name}_out" if num_outputs == 1 else f"{name}_out{i}" for i in range(num_outputs)]
        node = Node(name, op, tuple(inputs), tuple(outs), attrs)
        shapes = infer_node(node, [self.tensors[i] if i else None for i in inputs])
        for o, s in zip(outs, shapes, strict=True):
            self.tensors[o] = Tensor(o, s, DType.FP32)
        self.nodes.append(node)
        return outs

    def one(self, op: OpKind, inputs: list[str], attrs: Any, prefix: str | None = None) -> str:
        return self.node(op, inputs, attrs, prefix)[0]

    def build(self, outputs: list[str]) -> Graph:
        return Graph.build(self.name, self.nodes, self.tensors, self.inputs, outputs, source_format="zoo")

    # -- weights -------------------------------------------------------------------------------------
    def _he(self, name: str, shape: tuple[int, ...], fan_in: int, gain: float = 2.0) -> np.ndarray:
        if self.uniform_weights:  # same variance: U(-a, a) has variance a^2 / 3
            return self.uniform(shape, math.sqrt(3.0 * gain / max(fan_in, 1)))
        return he_weights((self.name, self.seed, name, tuple(int(d) for d in shape), int(fan_in), float(gain)))

    def uniform(self, shape: tuple[int, ...], half_width: float) -> np.ndarray:
        """U(-half_width, half_width) values of ``shape``: a read-only window at a random offset of a pool."""
        n = math.prod(shape)
        pool = self._pools.get(half_width)
        if pool is None or pool.size < n:
            size = max(n, 2 * (pool.size if pool is not None else 0), 1 << 16)
            pool = self.rng.random(size, dtype=np.float32)
            pool -= np.float32(0.5)
            pool *= np.float32(2.0 * half_width)
            pool.flags.writeable = False
            self._pools[half_width] = pool
        off = int(self.rng.integers(0, pool.size - n + 1))
        return pool[off:off + n].reshape(shape)

    # -- layers --------------------------------------------------------------------------------------
    def conv(self, x: str, cout: int, k: int | tuple[int, int], stride: int | tuple[int, int] = 1,
             groups: int = 1, bias: bool = False, padding: A.Padding | None = None, dilation: int = 1) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        cin = self.shape(x)[1]
        if padding is None:
            ph, pw = (kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation
            padding = A.Padding(ph, pw, ph, pw)
        depthwise = groups > 1 and groups == cin and cout == cin
        name = self.uid("dwconv" if depthwise else "conv")
        w = self.const(f"{name}_w", self._he(name, (cout, cin // groups, kh, kw), (cin // groups) * kh * kw))
        ins = [x, w]
        if bias:
            ins.append(self.const(f"{name}_b", filled(cout, 0.0)))
        attrs = A.ConvAttrs(kernel_hw=(kh, kw), stride_hw=(sh, sw), dilation_hw=(dilation, dilation), padding=padding,
                            groups=groups, layout=NCHW)
        return self._emit(name, OpKind.DEPTHWISE_CONV2D if depthwise else OpKind.CONV2D, ins, attrs)[0]

    def conv_transpose(self, x: str, cout: int, k: int, stride: int, bias: bool = True) -> str:
        """Unpadded transposed convolution (nn.ConvTranspose2d, ONNX ConvTranspose): IOHW weights, NCHW."""
        cin = self.shape(x)[1]
        name = self.uid("deconv")
        w = self.const(f"{name}_w", self._he(name, (cin, cout, k, k), cin * k * k // (stride * stride)))
        ins = [x, w]
        if bias:
            ins.append(self.const(f"{name}_b", filled(cout, 0.0)))
        attrs = A.ConvAttrs(kernel_hw=(k, k), stride_hw=(stride, stride), padding=A.Padding(), layout=NCHW)
        return self._emit(name, OpKind.CONV_TRANSPOSE2D, ins, attrs)[0]

    def dwconv(self, x: str, k: int, stride: int = 1, bias: bool = False,
               padding: A.Padding | None = None, dilation: int = 1) -> str:
        c = self.shape(x)[1]
        return self.conv(x, c, k, stride, groups=c, bias=bias, padding=padding, dilation=dilation)

    def bn(self, x: str, epsilon: float = 1e-5) -> str:
        c = self.shape(x)[1]
        prefix = self.uid("bn")
        params = [
            self.const(f"{prefix}_gamma", filled(c, 1.0)),
            self.const(f"{prefix}_beta", filled(c, 0.0)),
            self.const(f"{prefix}_mean", filled(c, 0.0)),
            self.const(f"{prefix}_var", filled(c, 1.0)),
        ]
        out = f"{prefix}_out"
        node = Node(prefix, OpKind.BATCH_NORM, (x, *params), (out,), A.BatchNormAttrs(epsilon, NCHW))
        self.tensors[out] = Tensor(out, self.shape(x), DType.FP32)
        self.nodes.append(node)
        return out

    def act(self, x: str, kind: str) -> str:
        """kind: relu, relu6, hswish, hsigmoid, sigmoid, gelu, silu, leaky (slope 0.1, Darknet), none."""
        if kind == "none":
            return x
        if kind == "silu":
            # SiLU as exported to ONNX/TFLite (Sigmoid then Mul): vendor runtimes see and fuse these two ops.
            return self.mul(x, self.one(OpKind.SIGMOID, [x], A.NoAttrs()))
        if kind == "leaky":
            return self.one(OpKind.LEAKY_RELU, [x], A.LeakyReluAttrs(alpha=0.1))
        if kind == "relu":
            return self.one(OpKind.RELU, [x], A.NoAttrs())
        if kind == "relu6":
            return self.one(OpKind.CLIP, [x], A.ClipAttrs(0.0, 6.0), prefix="relu6")
        if kind == "hswish":
            return self.one(OpKind.HARD_SWISH, [x], A.NoAttrs())
        if kind == "hsigmoid":
            # PyTorch's hardsigmoid: relu6(x + 3) / 6
            return self.one(OpKind.HARD_SIGMOID, [x], A.HardSigmoidAttrs(alpha=1.0 / 6.0, beta=0.5))
        if kind == "sigmoid":
            return self.one(OpKind.SIGMOID, [x], A.NoAttrs())
        if kind == "gelu":
            return self.one(OpKind.GELU, [x], A.GeluAttrs())
        raise ValueError(f"unknown activation '{kind}'")

    def conv_bn_act(self, x: str, cout: int, k: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                    groups: int = 1, act: str = "relu", padding: A.Padding | None = None) -> str:
        return self.act(self.bn(self.conv(x, cout, k, stride, groups, padding=padding)), act)

    def add(self, a: str, b: str) -> str:
        return self.one(OpKind.ADD, [a, b], A.ElementwiseAttrs())

    def mul(self, a: str, b: str) -> str:
        return self.one(OpKind.MUL, [a, b], A.ElementwiseAttrs())

    def concat(self, xs: list[str], axis: int) -> str:
        return self.one(OpKind.CONCAT, xs, A.ConcatAttrs(axis))

    def maxpool(self, x: str, k: int, stride: int, pad: int = 0, ceil_mode: bool = False) -> str:
        attrs = A.PoolAttrs((k, k), (stride, stride), A.Padding(pad, pad, pad, pad), NCHW, ceil_mode=ceil_mode)
        return self.one(OpKind.MAX_POOL2D, [x], attrs)

    def upsample(self, x: str, factor: int = 2, mode: str = "nearest") -> str:
        """Resize by an integer factor (nn.Upsample / ONNX Resize), NCHW."""
        _, _, h, w = self.shape(x)
        return self.one(OpKind.RESIZE, [x], A.ResizeAttrs((h * factor, w * factor), mode, NCHW))

    def resize(self, x: str, out_hw: tuple[int, int], mode: str = "linear", align_corners: bool = False) -> str:
        return self.one(OpKind.RESIZE, [x], A.ResizeAttrs(out_hw, mode, NCHW, align_corners=align_corners))

    def gap(self, x: str) -> str:
        """Global average pool, as exported PyTorch models spell it: ReduceMean over H, W keeping dims."""
        return self.one(OpKind.MEAN, [x], A.ReduceAttrs(axes=(2, 3), keepdims=True), prefix="gap")

    def reshape(self, x: str, shape: tuple[int, ...]) -> str:
        return self.one(OpKind.RESHAPE, [x], A.ReshapeAttrs(tuple(shape)))

    def transpose(self, x: str, perm: tuple[int, ...]) -> str:
        return self.one(OpKind.TRANSPOSE, [x], A.TransposeAttrs(tuple(perm)))

    def flatten(self, x: str) -> str:
        s = self.shape(x)
        return self.reshape(x, (s[0], math.prod(s[1:])))

    def fc(self, x: str, out_features: int, bias: bool = True, gain: float = 1.0) -> str:
        in_features = self.shape(x)[-1]
        name = self.uid("fc")
        w = self.const(f"{name}_w", self._he(name, (out_features, in_features), in_features, gain))
        ins = [x, w]
        if bias:
            ins.append(self.const(f"{name}_b", filled(out_features, 0.0)))
        return self._emit(name, OpKind.FULLY_CONNECTED, ins, A.FullyConnectedAttrs())[0]

    def classifier(self, x: str, num_classes: int) -> str:
        """Global pool -> (1, C) -> fully connected."""
        return self.fc(self.flatten(self.gap(x)), num_classes)

    def squeeze_excite(self, x: str, squeeze: int, gate: str = "hsigmoid") -> str:
        c = self.shape(x)[1]
        s = self.gap(x)
        s = self.act(self.conv(s, squeeze, 1, bias=True), "relu")
        s = self.act(self.conv(s, c, 1, bias=True), gate)
        return self.mul(x, s)
