"""Float-executor kernels for the ONNX math long tail (trigonometric and smooth activations, integer/boolean
binary ops, the remaining reductions, arg-reductions, cumulative sums, triangles, RMS and group normalisation).
Formulas follow the ONNX operator specification; the conformance suite checks them against onnx's expected
outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgesim.errors import UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind

Arr = np.ndarray
Run = Callable[[Node, list[Arr | None], Graph], "Arr | list[Arr]"]


def _in(ins: list[Arr | None], k: int) -> Arr:
    x = ins[k]
    assert x is not None
    return x


def _softplus(x: Arr) -> Arr:
    return np.logaddexp(0.0, x)


def _elu(x: Arr, alpha: float) -> Arr:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def sigmoid(x: Arr) -> Arr:
    """1 / (1 + e^-x). Below x ~ -88 (fp32) e^-x overflows to inf and the result is exactly 0, the right limit: the
    overflow is expected, so it is not reported (YOLO heads' large negative logits warned on every run)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _region_yolo(x: Arr, box_len: int, coords: int) -> Arr:
    """OpenVINO RegionYolo with do_softmax=0 (YOLO v3): along axis 1, per box of ``box_len`` = coords + 1 +
    classes values, the logistic of x, y, the objectness and the class scores; w, h (coords 2..) pass through."""
    c = x.shape[1]
    keep = np.zeros(c, dtype=bool)
    offsets = np.arange(c) % box_len
    keep[(offsets >= 2) & (offsets < coords)] = True
    shape = [1] * x.ndim
    shape[1] = c
    return np.where(keep.reshape(shape), x, sigmoid(x))


_UNARY: dict[str, Callable[[Arr, A.MathAttrs], Arr]] = {
    "sin": lambda x, a: np.sin(x), "cos": lambda x, a: np.cos(x), "tan": lambda x, a: np.tan(x),
    "asin": lambda x, a: np.arcsin(x), "acos": lambda x, a: np.arccos(x), "atan": lambda x, a: np.arctan(x),
    "sinh": lambda x, a: np.sinh(x), "cosh": lambda x, a: np.cosh(x), "asinh": lambda x, a: np.arcsinh(x),
    "acosh": lambda x, a: np.arccosh(x), "atanh": lambda x, a: np.arctanh(x),
    "elu": lambda x, a: _elu(x, a.alpha),
    "selu": lambda x, a: a.gamma * _elu(x, a.alpha),
    "celu": lambda x, a: np.maximum(x, 0) + np.minimum(0, a.alpha * np.expm1(np.minimum(x, 0) / a.alpha)),
    "softplus": lambda x, a: _softplus(x),
    "softsign": lambda x, a: x / (1 + np.abs(x)),
    "mish": lambda x, a: x * np.tanh(_softplus(x)),
    "swish": lambda x, a: x / (1 + np.exp(-a.alpha * x)),
    "floor": lambda x, a: np.floor(x), "ceil": lambda x, a: np.ceil(x),
    "round": lambda x, a: np.rint(x),  # ONNX Round: ties to even
    "sign": lambda x, a: np.sign(x),
    "not": lambda x, a: (x == 0).astype(np.float32),
    "isnan": lambda x, a: np.isnan(x).astype(np.float32),
    # alpha / beta: detect_negative / detect_positive
    "isinf": lambda x, a: ((np.isneginf(x) & bool(a.alpha)) | (np.isposinf(x) & bool(a.beta))).astype(np.float32),
    "thresholded_relu": lambda x, a: np.where(x > a.alpha, x, 0),
    "shrink": lambda x, a: np.where(x < -a.alpha, x + a.beta, np.where(x > a.alpha, x - a.beta, 0)),
    "region_yolo": lambda x, a: _region_yolo(x, int(a.alpha), int(a.beta)),
}

_BINARY: dict[str, Callable[[Arr, Arr, A.MathAttrs], Arr]] = {
    # fmod = 1 (alpha): C fmod, sign of the dividend; otherwise integer modulo with the sign of the divisor
    "mod": lambda x, y, a: np.fmod(x, y) if a.alpha else np.mod(x, y),
    "and": lambda x, y, a: np.logical_and(x != 0, y != 0),
    "or": lambda x, y, a: np.logical_or(x != 0, y != 0),
    "xor": lambda x, y, a: np.logical_xor(x != 0, y != 0),
    "greater_equal": lambda x, y, a: x >= y,
    "less_equal": lambda x, y, a: x <= y,
}

UNARY_FUNCTIONS = frozenset(_UNARY)
BINARY_FUNCTIONS = frozenset(_BINARY)


def unary_math(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.MathAttrs = node.attrs
    fn = _UNARY.get(a.fn)
    if fn is None:
        raise UnsupportedOpError(f"math function '{a.fn}' is not supported by the float executor", node=node.name)
    return np.asarray(fn(_in(ins, 0).astype(np.float64), a), np.float32)


def binary_math(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.MathAttrs = node.attrs
    fn = _BINARY.get(a.fn)
    if fn is None:
        raise UnsupportedOpError(f"math function '{a.fn}' is not supported by the float executor", node=node.name)
    x, y = _in(ins, 0).astype(np.float64), _in(ins, 1).astype(np.float64)
    return np.asarray(fn(x, y, a), np.float32)


def reduce_math(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ReduceMathAttrs = node.attrs
    x = _in(ins, 0).astype(np.float64)
    ax = tuple(a.axes)
    kd = a.keepdims
    if a.fn == "min":
        y = np.min(x, axis=ax, keepdims=kd, initial=np.inf)
    elif a.fn == "prod":
        y = np.prod(x, axis=ax, keepdims=kd)
    elif a.fn == "l1":
        y = np.sum(np.abs(x), axis=ax, keepdims=kd)
    elif a.fn == "l2":
        y = np.sqrt(np.sum(x * x, axis=ax, keepdims=kd))
    elif a.fn == "sum_square":
        y = np.sum(x * x, axis=ax, keepdims=kd)
    elif a.fn == "log_sum":
        y = np.log(np.sum(x, axis=ax, keepdims=kd))
    elif a.fn == "log_sum_exp":
        m = np.max(x, axis=ax, keepdims=True, initial=-np.inf)
        m = np.where(np.isfinite(m), m, 0.0)
        y = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
        y = y if kd else np.squeeze(y, axis=ax)
    else:
        raise UnsupportedOpError(f"reduction '{a.fn}' is not supported by the float executor", node=node.name)
    return np.asarray(y, np.float32).reshape(graph.tensors[node.outputs[0]].shape)


def arg_reduce(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ArgReduceAttrs = node.attrs
    x = _in(ins, 0)
    ax = a.axis % x.ndim
    pick = np.argmax if a.fn == "max" else np.argmin
    if a.select_last_index:
        idx = x.shape[ax] - 1 - pick(np.flip(x, axis=ax), axis=ax)
    else:
        idx = pick(x, axis=ax)
    return np.asarray(idx, np.float32).reshape(graph.tensors[node.outputs[0]].shape)


def cumsum(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.CumSumAttrs = node.attrs
    x = _in(ins, 0).astype(np.float64)
    ax = a.axis % x.ndim
    if a.reverse:
        x = np.flip(x, axis=ax)
    y = np.cumprod(x, axis=ax) if a.product else np.cumsum(x, axis=ax)
    if a.exclusive:  # shift by one along the axis, starting from the identity (0 for sums, 1 for products)
        first = np.full_like(np.take(y, [0], axis=ax), 1.0 if a.product else 0.0)
        y = np.concatenate([first, np.take(y, np.arange(y.shape[ax] - 1), axis=ax)], axis=ax)
    if a.reverse:
        y = np.flip(y, axis=ax)
    return y.astype(np.float32)


def trilu(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.TriluAttrs = node.attrs
    x = _in(ins, 0)
    return np.triu(x, a.k) if a.upper else np.tril(x, a.k)


def rms_norm(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.LayerNormAttrs = node.attrs
    x = _in(ins, 0).astype(np.float64)
    axes = tuple(range(a.axis % x.ndim, x.ndim))
    y = x / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + a.epsilon)
    if len(ins) > 1 and ins[1] is not None:
        y = y * ins[1]
    return y.astype(np.float32)


def group_norm(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.GroupNormAttrs = node.attrs
    x = _in(ins, 0).astype(np.float64)
    n, c = x.shape[0], x.shape[1]
    g = x.reshape(n, a.groups, -1)
    mu = g.mean(axis=2, keepdims=True)
    var = g.var(axis=2, keepdims=True)
    y = ((g - mu) / np.sqrt(var + a.epsilon)).reshape(x.shape)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    return (y * _in(ins, 1).reshape(bshape) + _in(ins, 2).reshape(bshape)).astype(np.float32)


def gather_elements(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    x, idx = _in(ins, 0), _in(ins, 1).astype(np.int64)
    ax = node.attrs.axis % x.ndim
    idx = np.where(idx < 0, idx + x.shape[ax], idx)  # ONNX allows negative indices
    return np.take_along_axis(x, idx, axis=ax)


def gather_nd(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    x, idx = _in(ins, 0), _in(ins, 1).astype(np.int64)
    bd = node.attrs.batch_dims
    batch = x.shape[:bd]
    xs = x.reshape((-1,) + x.shape[bd:])
    ids = idx.reshape((xs.shape[0], -1, idx.shape[-1]))
    out = np.stack([xs[b][tuple(ids[b].T)] for b in range(xs.shape[0])])
    return out.reshape(tuple(batch) + idx.shape[bd:-1] + x.shape[bd + idx.shape[-1]:])


def scatter_elements(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ScatterAttrs = node.attrs
    y = _in(ins, 0).copy()
    idx, upd = _in(ins, 1).astype(np.int64), _in(ins, 2)
    ax = a.axis % y.ndim
    idx = np.where(idx < 0, idx + y.shape[ax], idx)
    # every update's full coordinate: its own position with the axis coordinate replaced by the index
    coords: list[np.ndarray] = list(np.indices(idx.shape))
    coords[ax] = idx
    where = tuple(c.ravel() for c in coords)
    vals = upd.ravel()
    if a.reduction == "none":
        y[where] = vals
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[a.reduction]
        ufunc.at(y, where, vals)
    return y


def scatter_nd(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.ScatterAttrs = node.attrs
    y = _in(ins, 0).copy()
    idx, upd = _in(ins, 1).astype(np.int64), _in(ins, 2)
    k = idx.shape[-1]
    where = tuple(idx.reshape(-1, k).T)
    vals = upd.reshape((-1,) + y.shape[k:])
    if a.reduction == "none":
        y[where] = vals
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[a.reduction]
        ufunc.at(y, where, vals)
    return y


def topk(node: Node, ins: list[Arr | None], graph: Graph) -> list[Arr]:
    a: A.TopKAttrs = node.attrs
    x = _in(ins, 0).astype(np.float64)
    order = np.argsort(-x if a.largest else x, axis=a.axis, kind="stable")  # ties: the lower index first
    idx = np.take(order, np.arange(a.k), axis=a.axis)
    return [np.take_along_axis(x, idx, axis=a.axis).astype(np.float32), idx.astype(np.float32)]


MATH_OPS: dict[OpKind, Run] = {
    OpKind.UNARY_MATH: unary_math,
    OpKind.BINARY_MATH: binary_math,
    OpKind.REDUCE_MATH: reduce_math,
    OpKind.ARG_REDUCE: arg_reduce,
    OpKind.CUMSUM: cumsum,
    OpKind.TRILU: trilu,
    OpKind.RMS_NORM: rms_norm,
    OpKind.GROUP_NORM: group_norm,
    OpKind.GATHER_ELEMENTS: gather_elements,
    OpKind.GATHER_ND: gather_nd,
    OpKind.SCATTER_ELEMENTS: scatter_elements,
    OpKind.TOPK: topk,
    OpKind.SCATTER_ND: scatter_nd,
}
