"""Operator fusion: fold BATCH_NORM into the preceding conv/FC weights, and fold activations into the producer.

A fused node keeps the name of the MAC op, writes the last tensor of the chain (so consumers and graph outputs
are untouched) and lists every merged node in ``fused_from``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from edgesim.errors import ModelError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor

_FOLDABLE = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED)
_ACT_TARGETS = (*_FOLDABLE, OpKind.ADD, OpKind.CONCAT, OpKind.MAX_POOL2D, OpKind.AVG_POOL2D)


def _sole_consumer(graph: Graph, tensor: str) -> Node | None:
    """The only consumer of an intermediate tensor, or None when it is shared or is a graph output."""
    cons = graph.consumers(tensor)
    if len(cons) != 1 or tensor in graph.outputs:
        return None
    return cons[0]


def _merge(graph: Graph, first: Node, second: Node, attrs: object, extra_inputs: dict[str, str] | None = None,
           new_tensors: dict[str, Tensor] | None = None) -> Graph:
    """Replace ``first`` -> ``second`` by one node named like ``first`` writing ``second``'s outputs."""
    inputs = tuple((extra_inputs or {}).get(i, i) for i in first.inputs)
    fused = replace(first, inputs=inputs, outputs=second.outputs, attrs=attrs,
                    fused_from=(*(first.fused_from or (first.name,)), *(second.fused_from or (second.name,))))
    nodes = [fused if n is first else n for n in graph.nodes if n is not second]
    tensors = dict(graph.tensors)
    tensors.update(new_tensors or {})
    # Dropping unreferenced tensors removes the fused intermediates and weights replaced by folded copies.
    used = {i for n in nodes for i in n.inputs} | set(graph.inputs) | set(graph.outputs)
    used |= {o for n in nodes for o in n.outputs}
    tensors = {k: v for k, v in tensors.items() if k in used}
    return graph.rebuild(nodes=nodes, tensors=tensors)


def _out_channel_axis(node: Node, w: Tensor) -> int:
    a = node.attrs
    if node.op is OpKind.DEPTHWISE_CONV2D and isinstance(a, A.ConvAttrs) and a.layout is A.Layout.NHWC:
        return 3  # TFLite depthwise weights are 1HW(C*M)
    return 0


def _fold_bn_once(graph: Graph) -> Graph | None:
    for node in graph.nodes:
        if node.op not in _FOLDABLE or getattr(node.attrs, "activation", A.Activation.NONE) is not A.Activation.NONE:
            continue
        bn = _sole_consumer(graph, node.outputs[0])
        if bn is None or bn.op is not OpKind.BATCH_NORM:
            continue
        w = graph.tensors[node.inputs[1]]
        params = [graph.tensors[i] for i in bn.inputs[1:5]]
        if w.data is None or not w.dtype.is_float or any(p.data is None for p in params):
            continue
        gamma, beta, mean, var = (np.asarray(p.data, np.float64) for p in params)
        battrs: A.BatchNormAttrs = bn.attrs
        out = graph.tensors[node.outputs[0]]
        if node.op is not OpKind.FULLY_CONNECTED and battrs.layout.channel_axis(len(out.shape)) != \
                node.attrs.layout.channel_axis(len(out.shape)):
            continue
        scale = gamma / np.sqrt(var + battrs.epsilon)
        axis = _out_channel_axis(node, w)
        shape = [1] * w.data.ndim
        shape[axis] = -1
        new_w = (w.data.astype(np.float64) * scale.reshape(shape)).astype(np.float32)
        has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
        old_b = np.asarray(graph.tensors[node.inputs[2]].data, np.float64) if has_bias else np.zeros_like(mean)
        new_b = ((old_b - mean) * scale + beta).astype(np.float32)
        w_name, b_name = f"{node.name}_w_folded", f"{node.name}_b_folded"
        new_tensors = {w_name: Tensor(w_name, tuple(new_w.shape), w.dtype, data=new_w),
                       b_name: Tensor(b_name, tuple(new_b.shape), w.dtype, data=new_b)}
        inputs = (node.inputs[0], w_name, b_name)
        merged = replace(node, inputs=inputs)
        nodes = [merged if n is node else n for n in graph.nodes]
        g2 = graph.rebuild(nodes=nodes, tensors={**graph.tensors, **new_tensors})
        return _merge(g2, merged, bn, node.attrs)
    return None


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


def _fuse_activation_once(graph: Graph) -> Graph | None:
    for node in graph.nodes:
        if node.op not in _ACT_TARGETS or not hasattr(node.attrs, "activation"):
            continue
        if node.attrs.activation is not A.Activation.NONE:
            continue
        act_node = _sole_consumer(graph, node.outputs[0])
        if act_node is None:
            continue
        act = _activation_of(graph, act_node)
        if act is None:
            continue
        # Quantized graphs fuse only when the activation output keeps the producer's grid semantics;
        # we conservatively fuse float graphs and graphs whose tensors share dtype.
        if graph.tensors[node.outputs[0]].dtype is not graph.tensors[act_node.outputs[0]].dtype:
            continue
        return _merge(graph, node, act_node, replace(node.attrs, activation=act))
    return None


def fold_batch_norm(graph: Graph) -> Graph:
    """Fold every BATCH_NORM that solely consumes a float CONV2D/DEPTHWISE/FC output into its weights and bias."""
    while (g := _fold_bn_once(graph)) is not None:
        graph = g
    return graph


def fuse_activations(graph: Graph) -> Graph:
    """Fold RELU/CLIP(0,6)/HARD_SWISH/... into the producing conv, FC, ADD, concat or pool."""
    while (g := _fuse_activation_once(graph)) is not None:
        graph = g
    return graph


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
