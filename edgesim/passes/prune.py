"""Pruning: unstructured magnitude, N:M semi-structured (2:4) and structured channel pruning.

Unstructured and N:M pruning write zeros into the weights and annotate ``Tensor.sparsity``; channel pruning
really removes output channels of a conv (and the matching input channels of whatever reads them), so shapes
shrink and every cost falls without sparse hardware.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.shape_infer import infer_shapes
from edgesim.ir.tensor import Tensor, WeightSparsity
from edgesim.passes.quantize import weight_out_axis

_PRUNABLE = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED)
# Ops that map channel c of their input to channel c of their output (so a channel can be cut through them).
_PER_CHANNEL = (OpKind.BATCH_NORM, OpKind.RELU, OpKind.CLIP, OpKind.HARD_SWISH, OpKind.SIGMOID, OpKind.TANH,
                OpKind.LEAKY_RELU, OpKind.HARD_SIGMOID, OpKind.GELU)


@dataclass(frozen=True)
class PruneSpec:
    """``kind``: "magnitude" (with ``amount`` and ``scope`` global|layer), "nm" (``n``:``m``), "channels"
    (``amount`` of output channels per prunable conv)."""

    kind: str
    amount: float = 0.0
    scope: str = "layer"
    n: int = 2
    m: int = 4

    def __post_init__(self) -> None:
        if self.kind not in ("magnitude", "nm", "channels"):
            raise EdgesimError(f"unknown pruning kind '{self.kind}'", field="prune")
        if self.kind != "nm" and not 0.0 <= self.amount < 1.0:
            raise EdgesimError(f"pruning amount must be in [0, 1), got {self.amount}", field="prune")
        if self.scope not in ("global", "layer"):
            raise EdgesimError(f"scope must be global or layer, got '{self.scope}'", field="prune")
        if self.kind == "nm" and not (0 < self.n < self.m <= 64):
            raise EdgesimError(f"N:M needs 0 < N < M, got {self.n}:{self.m}", field="prune")


def parse_prune(text: str) -> PruneSpec:
    """CLI form: ``0.5`` (magnitude per layer), ``global:0.5``, ``2:4`` (N:M), ``channels:0.3``."""
    t = text.strip()
    try:
        if t.startswith("channels:"):
            return PruneSpec("channels", float(t.split(":", 1)[1]))
        if t.startswith("global:"):
            return PruneSpec("magnitude", float(t.split(":", 1)[1]), scope="global")
        if ":" in t:
            n, m = t.split(":")
            return PruneSpec("nm", n=int(n), m=int(m))
        return PruneSpec("magnitude", float(t))
    except ValueError:
        raise EdgesimError(f"cannot parse '{text}'; use 0.5, global:0.5, 2:4 or channels:0.3",
                           field="prune") from None


def _weights(graph: Graph) -> list[tuple[Node, Tensor]]:
    out = []
    for n in graph.nodes:
        if n.op in _PRUNABLE and len(n.inputs) > 1:
            w = graph.tensors[n.inputs[1]]
            if w.data is not None:
                out.append((n, w))
    return out


def _with_sparsity(t: Tensor, data: np.ndarray, nm: tuple[int, int] | None = None) -> Tensor:
    zeros = float(np.count_nonzero(_real_zero(t, data))) / max(data.size, 1)
    return replace(t, data=data, sparsity=WeightSparsity(zeros, nm))


def _real_zero(t: Tensor, data: np.ndarray) -> np.ndarray:
    """Mask of weights whose real value is zero (integer weights: equal to their zero point)."""
    if t.quant is None or t.dtype.is_float:
        return data == 0
    zp = np.asarray(t.quant.zero_points)
    if t.quant.axis is not None:
        shape = [1] * data.ndim
        shape[t.quant.axis] = -1
        zp = zp.reshape(shape)
    return data == zp


def _magnitude(t: Tensor) -> np.ndarray:
    assert t.data is not None
    if t.quant is None or t.dtype.is_float:
        return np.abs(np.asarray(t.data, np.float64))
    zp = np.asarray(t.quant.zero_points, np.float64)
    sc = np.asarray(t.quant.scales, np.float64)
    if t.quant.axis is not None:
        shape = [1] * t.data.ndim
        shape[t.quant.axis] = -1
        zp, sc = zp.reshape(shape), sc.reshape(shape)
    return np.abs((t.data - zp) * sc)


def _zero_where(t: Tensor, mask: np.ndarray) -> np.ndarray:
    assert t.data is not None
    data = np.array(t.data, copy=True)
    if t.quant is None or t.dtype.is_float:
        data[mask] = 0
    else:
        zp = np.broadcast_to(np.asarray(t.quant.zero_points).reshape(
            [-1 if i == t.quant.axis else 1 for i in range(data.ndim)] if t.quant.axis is not None else [1]),
            data.shape)
        data[mask] = zp[mask]
    return data


def prune_magnitude(graph: Graph, amount: float, scope: str = "layer") -> Graph:
    """Zero the ``amount`` fraction of smallest-magnitude weights, per layer or over all layers at once."""
    spec = PruneSpec("magnitude", amount, scope)
    pairs = _weights(graph)
    if not pairs or spec.amount == 0:
        return graph
    threshold_global = None
    if scope == "global":
        allmag = np.concatenate([_magnitude(w).ravel() for _, w in pairs])
        k = int(round(amount * allmag.size))
        threshold_global = np.partition(allmag, k - 1)[k - 1] if k > 0 else -1.0
    tensors = dict(graph.tensors)
    for _, w in pairs:
        mag = _magnitude(w)
        if threshold_global is not None:
            mask = mag <= threshold_global
        else:
            k = int(round(amount * mag.size))
            order = np.argsort(mag, axis=None, kind="stable")[:k]
            mask = np.zeros(mag.size, bool)
            mask[order] = True
            mask = mask.reshape(mag.shape)
        tensors[w.name] = _with_sparsity(w, _zero_where(w, mask))
    return graph.rebuild(tensors=tensors)


def _input_axis(node: Node, w: Tensor) -> int | None:
    """The reduction (input-channel) axis of a weight tensor, along which N:M groups run."""
    if node.op is OpKind.DEPTHWISE_CONV2D:
        return None  # one input channel per output: nothing to group
    if node.op is OpKind.FULLY_CONNECTED:
        return 1
    a: A.ConvAttrs = node.attrs
    return 3 if a.layout is A.Layout.NHWC else 1


def prune_nm(graph: Graph, n: int = 2, m: int = 4) -> Graph:
    """Keep the ``n`` largest of every ``m`` consecutive weights along the input dimension. Layers whose input
    dimension is not a multiple of ``m`` (e.g. a 3-channel stem) and depthwise layers are left dense."""
    PruneSpec("nm", n=n, m=m)
    tensors = dict(graph.tensors)
    for node, w in _weights(graph):
        axis = _input_axis(node, w)
        if axis is None or w.shape[axis] % m:
            continue
        mag = np.moveaxis(_magnitude(w), axis, -1)
        groups = mag.reshape(-1, m)
        order = np.argsort(groups, axis=1, kind="stable")[:, : m - n]  # the m-n smallest of each group
        mask = np.zeros_like(groups, bool)
        np.put_along_axis(mask, order, True, axis=1)
        mask = np.moveaxis(mask.reshape(mag.shape), -1, axis)
        tensors[w.name] = _with_sparsity(w, _zero_where(w, mask), (n, m))
    return graph.rebuild(tensors=tensors)


# --- structured channel pruning ----------------------------------------------------------------------------
def _follow_chain(graph: Graph, tensor: str) -> tuple[list[Node], str] | None:
    """Per-channel ops hanging off ``tensor`` in a single chain; returns them and the chain's last tensor."""
    chain: list[Node] = []
    while True:
        if tensor in graph.outputs:
            return None
        cons = graph.consumers(tensor)
        if len(cons) == 1 and cons[0].op in _PER_CHANNEL and cons[0].inputs[0] == tensor:
            chain.append(cons[0])
            tensor = cons[0].outputs[0]
            continue
        return chain, tensor


def _channel_plan(graph: Graph, conv: Node) -> list[Node] | None:
    """Nodes whose channel dimension must shrink with ``conv``'s outputs, or None when unsafe (ADD, concat,
    reshape, graph outputs...). Depthwise consumers pass the cut through to their own consumers."""
    affected: list[Node] = []
    frontier = [conv.outputs[0]]
    while frontier:
        res = _follow_chain(graph, frontier.pop())
        if res is None:
            return None
        chain, last = res
        affected.extend(chain)
        cons = graph.consumers(last)
        if not cons:
            return None
        for c in cons:
            if c.inputs[0] != last:
                return None
            if c.op is OpKind.CONV2D and c.attrs.groups == 1 and graph.tensors[c.inputs[1]].is_const:
                affected.append(c)
            elif c.op is OpKind.DEPTHWISE_CONV2D and graph.tensors[c.inputs[1]].is_const:
                affected.append(c)
                frontier.append(c.outputs[0])
            else:
                return None
    return affected


def _take(t: Tensor, keep: np.ndarray, axis: int) -> Tensor:
    assert t.data is not None
    data = np.take(t.data, keep, axis=axis)
    q = t.quant
    if q is not None and q.axis is not None and q.axis % data.ndim == axis and len(q.scales) > 1:
        q = replace(q, scales=tuple(q.scales[i] for i in keep), zero_points=tuple(q.zero_points[i] for i in keep))
    return Tensor(t.name, tuple(data.shape), t.dtype, q, data, t.sparsity, None)


def prune_channels(graph: Graph, amount: float) -> Graph:
    """Remove the ``amount`` fraction of output channels with the smallest L1 norm from every CONV2D whose output
    reaches only convolutions through per-channel ops (so residual ADDs and concats are never cut)."""
    PruneSpec("channels", amount)
    if amount == 0:
        return graph
    tensors = dict(graph.tensors)
    nodes = {n.name: n for n in graph.nodes}
    touched: set[str] = set()
    for conv in graph.nodes:
        if conv.op is not OpKind.CONV2D or conv.attrs.groups != 1 or conv.name in touched:
            continue
        w = tensors[conv.inputs[1]]
        if w.data is None:
            continue
        plan = _channel_plan(graph, conv)
        if plan is None or any(p.name in touched for p in plan if p.op is not OpKind.CONV2D):
            continue
        out_axis = weight_out_axis(conv, w)
        c_out = w.shape[out_axis]
        n_keep = max(1, int(round(c_out * (1.0 - amount))))
        if n_keep == c_out:
            continue
        norms = _magnitude(w).sum(axis=tuple(i for i in range(w.data.ndim) if i != out_axis))
        keep = np.sort(np.argsort(-norms, kind="stable")[:n_keep])
        tensors[w.name] = _take(w, keep, out_axis)
        if len(conv.inputs) > 2 and conv.inputs[2]:
            tensors[conv.inputs[2]] = _take(tensors[conv.inputs[2]], keep, 0)
        touched.add(conv.name)
        for p in plan:
            if p.op is OpKind.BATCH_NORM:
                for i in p.inputs[1:5]:
                    tensors[i] = _take(tensors[i], keep, 0)
            elif p.op is OpKind.DEPTHWISE_CONV2D:
                dw = tensors[p.inputs[1]]
                tensors[dw.name] = _take(dw, keep, weight_out_axis(p, dw))
                if len(p.inputs) > 2 and p.inputs[2]:
                    tensors[p.inputs[2]] = _take(tensors[p.inputs[2]], keep, 0)
                nodes[p.name] = replace(p, attrs=replace(p.attrs, groups=n_keep))
                touched.add(p.name)
            elif p.op is OpKind.CONV2D:
                cw = tensors[p.inputs[1]]
                in_axis = 3 if p.attrs.layout is A.Layout.NHWC else 1
                tensors[cw.name] = _take(cw, keep, in_axis)
    g = graph.rebuild(nodes=[nodes[n.name] for n in graph.nodes], tensors=tensors)
    return infer_shapes(g)


def prune_graph(graph: Graph, spec: PruneSpec) -> Graph:
    if spec.kind == "magnitude":
        return prune_magnitude(graph, spec.amount, spec.scope)
    if spec.kind == "nm":
        return prune_nm(graph, spec.n, spec.m)
    return prune_channels(graph, spec.amount)
