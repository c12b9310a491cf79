"""Operator fusion: fold BATCH_NORM into the preceding conv/FC weights, and fold activations into the producer.

A fused node keeps the name of the MAC op, writes the last tensor of the chain (so consumers and graph outputs
are untouched) and lists every merged node in ``fused_from``.

Residual ADDs (conv/FC + ADD of an earlier tensor) are fused later, on the schedule (``fuse_residual_plans``, called
by the mapper): whether they fuse depends on the unit each op lands on and on its runtime
(``RuntimeProfile.fused_residual_add``), and the graph itself stays unfused so that every executor, the bit-exact
kernels and the ONNX export see the ops the model file has, each ADD with its own requantization.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from edgesim.errors import ModelError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor

_FOLDABLE = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED)
_ACT_TARGETS = (*_FOLDABLE, OpKind.ADD, OpKind.CONCAT, OpKind.MAX_POOL2D, OpKind.AVG_POOL2D)


def sole_consumer(graph: Graph, tensor: str) -> Node | None:
    """The only consumer of an intermediate tensor, or None when it is shared or is a graph output."""
    cons = graph.consumers(tensor)
    if len(cons) != 1 or tensor in graph.outputs:
        return None
    return cons[0]


def _fused(first: Node, second: Node, attrs: object) -> Node:
    """``first`` -> ``second`` as one node named like ``first`` writing ``second``'s outputs."""
    return replace(first, outputs=second.outputs, attrs=attrs,
                   fused_from=(*(first.fused_from or (first.name,)), *(second.fused_from or (second.name,))))


def _merge_all(graph: Graph, merges: dict[str, tuple[Node, str]], new_tensors: dict[str, Tensor]) -> Graph:
    """Apply every merge (first node's name -> (fused node, absorbed node's name)) in one rebuild: the pairs are
    disjoint, so merging them one at a time (a rebuild each) gives the same graph, only slower."""
    if not merges:
        return graph
    absorbed = {name for _, name in merges.values()}
    nodes = [merges[n.name][0] if n.name in merges else n for n in graph.nodes if n.name not in absorbed]
    tensors = {**graph.tensors, **new_tensors}
    # Dropping unreferenced tensors removes the fused intermediates and weights replaced by folded copies.
    used = {i for n in nodes for i in n.inputs} | set(graph.inputs) | set(graph.outputs)
    used |= {o for n in nodes for o in n.outputs}
    return graph.rebuild(nodes=nodes, tensors={k: v for k, v in tensors.items() if k in used})


def _out_channel_axis(node: Node, w: Tensor) -> int:
    a = node.attrs
    if node.op is OpKind.DEPTHWISE_CONV2D and isinstance(a, A.ConvAttrs) and a.layout is A.Layout.NHWC:
        return 3  # TFLite depthwise weights are 1HW(C*M)
    return 0


# Folded (weights, bias) by the identity of the arrays they came from, which stay alive here: zoo builds share their
# weight arrays (edgesim.zoo.builder.he_weights), so a search rebuilding the same layers folds each once.
_FOLDED: OrderedDict[tuple[object, ...], tuple[tuple[object, ...], np.ndarray, np.ndarray]] = OrderedDict()
_FOLDED_KEPT = 4096


def _folded(w: np.ndarray, bias: np.ndarray | None, params: list[np.ndarray | None], epsilon: float, axis: int
            ) -> tuple[np.ndarray, np.ndarray]:
    sources = (w, bias, *params)
    key = (*(id(a) for a in sources), epsilon, axis)
    hit = _FOLDED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], sources, strict=True)):
        _FOLDED.move_to_end(key)
        return hit[1], hit[2]
    gamma, beta, mean, var = (np.asarray(p, np.float64) for p in params)
    scale = gamma / np.sqrt(var + epsilon)
    shape = [1] * w.ndim
    shape[axis] = -1
    new_w = (w.astype(np.float64) * scale.reshape(shape)).astype(np.float32)
    old_b = np.asarray(bias, np.float64) if bias is not None else np.zeros_like(mean)
    new_b = ((old_b - mean) * scale + beta).astype(np.float32)
    new_w.flags.writeable = False
    new_b.flags.writeable = False
    _FOLDED[key] = (sources, new_w, new_b)
    while len(_FOLDED) > _FOLDED_KEPT:
        _FOLDED.popitem(last=False)
    return new_w, new_b


def fold_batch_norm(graph: Graph) -> Graph:
    """Fold every BATCH_NORM that solely consumes a float CONV2D/DEPTHWISE/FC output into its weights and bias."""
    merges: dict[str, tuple[Node, str]] = {}
    new_tensors: dict[str, Tensor] = {}
    for node in graph.nodes:
        if node.op not in _FOLDABLE or getattr(node.attrs, "activation", A.Activation.NONE) is not A.Activation.NONE:
            continue
        bn = sole_consumer(graph, node.outputs[0])
        if bn is None or bn.op is not OpKind.BATCH_NORM:
            continue
        w = graph.tensors[node.inputs[1]]
        params = [graph.tensors[i] for i in bn.inputs[1:5]]
        if w.data is None or not w.dtype.is_float or any(p.data is None for p in params):
            continue
        battrs: A.BatchNormAttrs = bn.attrs
        out = graph.tensors[node.outputs[0]]
        if node.op is not OpKind.FULLY_CONNECTED and battrs.layout.channel_axis(len(out.shape)) != \
                node.attrs.layout.channel_axis(len(out.shape)):
            continue
        has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
        bias = graph.tensors[node.inputs[2]].data if has_bias else None
        new_w, new_b = _folded(w.data, bias, [p.data for p in params], battrs.epsilon, _out_channel_axis(node, w))
        w_name, b_name = f"{node.name}_w_folded", f"{node.name}_b_folded"
        new_tensors[w_name] = Tensor(w_name, tuple(new_w.shape), w.dtype, data=new_w)
        new_tensors[b_name] = Tensor(b_name, tuple(new_b.shape), w.dtype, data=new_b)
        merged = replace(node, inputs=(node.inputs[0], w_name, b_name))
        merges[node.name] = (_fused(merged, bn, node.attrs), bn.name)
    return _merge_all(graph, merges, new_tensors)


def _activation_of(graph: Graph, node: Node) -> A.Activation | None:
    if node.op is OpKind.RELU:
        return A.Activation.RELU
    if node.op is OpKind.HARD_SWISH:
        return A.Activation.HARD_SWISH
    if node.op is OpKind.TANH:
        return A.Activation.TANH
    if node.op is OpKind.SIGMOID:
        return A.Activation.SIGMOID
    if node.op is OpKind.CLIP:
        c: A.ClipAttrs = node.attrs
        bounds = (c.min_value, c.max_value)
        if bounds == (0.0, 6.0):
            return A.Activation.RELU6
        if bounds == (-1.0, 1.0):
            return A.Activation.RELU_N1_TO_1
        if bounds == (0.0, None):
            return A.Activation.RELU
    return None


_CLAMPS = frozenset({A.Activation.RELU, A.Activation.RELU6, A.Activation.RELU_N1_TO_1})


def _qdq_clamp(graph: Graph, node: Node, produced: Tensor, activated: Tensor, act: A.Activation) -> bool:
    """ONNX QDQ writes ``DQ -> Conv -> Relu/Clip -> Q``: the conv's own output is a float intermediate with no
    quantization and only the clamp's output is quantized. Runtimes execute that as one int8 conv with a fused
    clamp (onnxruntime's QDQ Conv+Relu/Clip fusion into QLinearConv; TFLite's fused activations), so the pair
    fuses into a conv writing the quantized tensor. Only clamps: they commute with requantization."""
    if act not in _CLAMPS or produced.quant is not None or activated.quant is None or produced.dtype.bits != 32:
        return False
    x = graph.tensors[node.inputs[0]]
    return x.quant is not None and x.dtype.bits <= 16


def fuse_activations(graph: Graph) -> Graph:
    """Fold RELU/CLIP(0,6)/HARD_SWISH/... into the producing conv, FC, ADD, concat or pool."""
    merges: dict[str, tuple[Node, str]] = {}
    for node in graph.nodes:
        if node.op not in _ACT_TARGETS or not hasattr(node.attrs, "activation"):
            continue
        if node.attrs.activation is not A.Activation.NONE:
            continue
        act_node = sole_consumer(graph, node.outputs[0])
        if act_node is None:
            continue
        act = _activation_of(graph, act_node)
        if act is None:
            continue
        # Quantized graphs fuse only when the activation output keeps the producer's grid semantics;
        # we conservatively fuse float graphs and graphs whose tensors share dtype, plus the QDQ pattern below.
        produced, activated = graph.tensors[node.outputs[0]], graph.tensors[act_node.outputs[0]]
        if produced.dtype is not activated.dtype and not _qdq_clamp(graph, node, produced, activated, act):
            continue
        merges[node.name] = (_fused(node, act_node, replace(node.attrs, activation=act)), act_node.name)
    return _merge_all(graph, merges, {})


def fuse_operators(graph: Graph) -> Graph:
    return fuse_activations(fold_batch_norm(graph))


@dataclass(frozen=True)
class FusedGroup:
    node: str
    fused_from: tuple[str, ...]
    saved_bytes: int  # intermediate activation bytes no longer written and read back


@dataclass(frozen=True)
class FusionReport:
    groups: tuple[FusedGroup, ...]
    nodes_before: int
    nodes_after: int

    @property
    def saved_bytes(self) -> int:
        return sum(g.saved_bytes for g in self.groups)


def fusion_report(before: Graph, after: Graph) -> FusionReport:
    """What fusion merged, and the activation traffic saved: each removed intermediate tensor was written once
    and read once by the op it fed."""
    groups = []
    for n in after.nodes:
        if len(n.fused_from) < 2:
            continue
        removed: set[str] = set()
        for name in n.fused_from:
            try:
                orig = before.node(name)
            except ModelError:  # merged by the importer, not a node of ``before``
                continue
            removed.update(o for o in orig.outputs if o not in after.tensors)
        saved = sum(2 * before.tensors[t].nbytes for t in removed)
        groups.append(FusedGroup(n.name, n.fused_from, saved))
    return FusionReport(tuple(groups), len(before.nodes), len(after.nodes))
