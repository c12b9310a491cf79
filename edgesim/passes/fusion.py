"""Operator fusion: fold BATCH_NORM into the preceding conv/FC weights, and fold activations into the producer.

A fused node keeps the name of the MAC op, writes the last tensor of the chain (so consumers and graph outputs
are untouched) and lists every merged node in ``fused_from``.

Residual ADDs (conv/FC + ADD of an earlier tensor) are fused later, on the schedule (``fuse_residual_plans``, called
by the mapper): whether they fuse depends on the unit each op lands on and on its runtime
(``RuntimeProfile.fused_residual_add``), and the graph itself stays unfused so that every executor, the bit-exact
kernels and the ONNX export see the ops the model file has, each ADD with its own requantization.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgesim.errors import ModelError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor
from edgesim.mapping.plan import MemTraffic, OpPlan, TileGroup

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
        # we conservatively fuse float graphs and graphs whose tensors share dtype, plus the QDQ pattern below.
        produced, activated = graph.tensors[node.outputs[0]], graph.tensors[act_node.outputs[0]]
        if produced.dtype is not activated.dtype and not _qdq_clamp(graph, node, produced, activated, act):
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


# --- residual ADD fusion (applied to the schedule, where the unit running each op is known) ------------------
_RESIDUAL_PRODUCERS = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED)


@dataclass(frozen=True)
class ResidualAdd:
    """A conv/FC whose only consumer is a two-input ADD of its output and an earlier, same-shaped tensor."""

    producer: str  # the conv/FC node
    add: str  # the ADD node folded into the producer's output stage
    intermediate: str  # the producer's output, no longer written and read back when fused
    residual: str  # the ADD's other operand, read by the fused op instead


def residual_adds(graph: Graph) -> tuple[ResidualAdd, ...]:
    """Every conv/FC -> ADD pair a fusing runtime can merge into one op (conv epilogue adds the residual).

    The ADD must not broadcast (TensorRT's conv+elementwise fusion requires it, and an epilogue reads one residual
    element per output element) and must not read a constant (that is a bias, folded elsewhere)."""
    found: dict[str, ResidualAdd] = {}
    for node in graph.nodes:
        if node.op not in _RESIDUAL_PRODUCERS or len(node.outputs) != 1:
            continue
        mid = node.outputs[0]
        add = _sole_consumer(graph, mid)
        if add is None or add.op is not OpKind.ADD or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
            continue
        other = add.inputs[1] if add.inputs[0] == mid else add.inputs[0]
        res, out, inter = graph.tensors[other], graph.tensors[add.outputs[0]], graph.tensors[mid]
        if res.is_const or tuple(res.shape) != tuple(out.shape) or tuple(inter.shape) != tuple(out.shape):
            continue
        # When both operands come from convs (main path + projection shortcut), the later one in execution
        # order takes the ADD: the other's output is then ready as its residual.
        found[add.name] = ResidualAdd(node.name, add.name, mid, other)
    return tuple(found.values())


def _spread_tiles(template: tuple[TileGroup, ...], compute_cycles: float,
                  traffic: tuple[MemTraffic, ...]) -> tuple[TileGroup, ...]:
    """The producer's tiling with the fused totals spread over its tiles (remainders on the last tile)."""
    count = sum(g.count for g in template) or 1
    ws = max((g.working_set_bytes for g in template), default=0)
    per_c = compute_cycles / count
    if count == 1:
        return (TileGroup(1, compute_cycles, traffic, ws),)
    first = tuple(MemTraffic(t.memory, t.read_bytes // count, t.write_bytes // count) for t in traffic)
    last = tuple(MemTraffic(t.memory, t.read_bytes - f.read_bytes * (count - 1),
                            t.write_bytes - f.write_bytes * (count - 1)) for t, f in zip(traffic, first, strict=True))
    if first == last:
        return (TileGroup(count, per_c, first, ws),)
    return (TileGroup(count - 1, per_c, first, ws), TileGroup(1, per_c, last, ws))


def _merge_plans(conv: OpPlan, add: OpPlan, residual_bytes: int, cpu: bool) -> OpPlan:
    """One plan doing ``conv`` then ``add`` in its output stage: it reads what the conv read plus the residual and
    writes only the ADD's output; the conv output is never written and read back."""
    totals: dict[str, list[int]] = {}
    for t in conv.traffic:
        totals.setdefault(t.memory, [0, 0])[0] += t.read_bytes
    # The residual comes from wherever the ADD read its operands (both live in activation memory), in the same
    # proportions; the rounding remainder goes to the memory it read most from.
    add_reads = sum(t.read_bytes for t in add.traffic)
    shares = {t.memory: residual_bytes * t.read_bytes // add_reads for t in add.traffic} if add_reads else {}
    if shares:
        main = max(add.traffic, key=lambda t: t.read_bytes).memory
        shares[main] += residual_bytes - sum(shares.values())
    for t in add.traffic:
        m = totals.setdefault(t.memory, [0, 0])
        m[0] += shares.get(t.memory, 0)
        m[1] += t.write_bytes
    traffic = tuple(MemTraffic(k, r, w) for k, (r, w) in totals.items())
    # A CPU runs the add inside the same loop, after the MACs; an accelerator's output stage adds while the
    # MAC array computes the next block, so only the longer of the two counts.
    cycles = conv.compute_cycles + add.compute_cycles if cpu else max(conv.compute_cycles, add.compute_cycles)
    return replace(
        conv, elementwise_ops=conv.elementwise_ops + add.elementwise_ops, compute_cycles=cycles,
        traffic=traffic, tiles=_spread_tiles(conv.tiles, cycles, traffic),
        fused_from=(*(conv.fused_from or (conv.node,)), *(add.fused_from or (add.node,))),
        notes=(*conv.notes, *add.notes),
        activation_bytes=conv.activation_bytes + residual_bytes, output_bytes=add.output_bytes,
        depends_on=tuple(dict.fromkeys(d for d in (*conv.depends_on, *add.depends_on) if d != conv.node)),
    )


def fuse_residual_plans(graph: Graph, plans: Sequence[OpPlan], fusing_units: Collection[str],
                        serial_units: Collection[str] = ()) -> tuple[OpPlan, ...]:
    """Merge the plans of every ``residual_adds`` pair placed on one of ``fusing_units`` (the units whose runtime
    fuses a residual ADD into the conv output stage); ``serial_units`` (CPUs) add after the MACs, not alongside.

    The merged plan keeps the conv's name and takes the ADD's place in the order (every input of both is ready
    there); later plans that waited for the ADD wait for it instead."""
    by_name = {p.node: p for p in plans}
    merged: dict[str, OpPlan] = {}  # add name -> fused plan
    dropped: set[str] = set()
    renamed: dict[str, str] = {}
    for r in residual_adds(graph):
        conv, add = by_name.get(r.producer), by_name.get(r.add)
        if (conv is None or add is None or conv.unit != add.unit or conv.unit not in fusing_units
                or conv.fallback or add.fallback):
            continue
        merged[r.add] = _merge_plans(conv, add, graph.tensors[r.residual].nbytes, conv.unit in serial_units)
        dropped.add(r.producer)
        renamed[r.add] = r.producer
    if not merged:
        return tuple(plans)
    out = []
    for p in plans:
        if p.node in dropped:
            continue
        p = merged.get(p.node, p)
        if any(d in renamed for d in p.depends_on):
            p = replace(p, depends_on=tuple(dict.fromkeys(renamed.get(d, d) for d in p.depends_on)))
        out.append(p)
    return tuple(out)


@dataclass(frozen=True)
class ScheduledFusion:
    """A residual ADD fused at mapping time, and the activation bytes it no longer moves, per memory."""

    node: str
    fused_from: tuple[str, ...]
    saved_bytes_by_memory: tuple[tuple[str, int], ...]

    @property
    def saved_bytes(self) -> int:
        return sum(b for _, b in self.saved_bytes_by_memory)


def scheduled_fusions(unfused: Sequence[OpPlan], fused: Sequence[OpPlan]) -> tuple[ScheduledFusion, ...]:
    """Compare plans before and after ``fuse_residual_plans``: traffic of the parts minus that of the fused op."""
    before = {p.node: p for p in unfused}
    groups = []
    for p in fused:
        parts = [before[n] for n in p.fused_from if n in before]
        if len(parts) < 2 or p.node in before and before[p.node].fused_from == p.fused_from:
            continue
        moved: dict[str, int] = {}
        for q in parts:
            for t in q.traffic:
                moved[t.memory] = moved.get(t.memory, 0) + t.read_bytes + t.write_bytes
        for t in p.traffic:
            moved[t.memory] = moved.get(t.memory, 0) - t.read_bytes - t.write_bytes
        groups.append(ScheduledFusion(p.node, p.fused_from, tuple(sorted((m, b) for m, b in moved.items() if b))))
    return tuple(groups)


def record_scheduled_fusions(summary: dict[str, Any], unfused: Sequence[OpPlan], fused: Sequence[OpPlan]) -> None:
    """Add the residual fusions of a schedule to a CLI fusion summary (``groups`` + ``saved_activation_bytes``)."""
    for f in scheduled_fusions(unfused, fused):
        summary.setdefault("groups", []).append({
            "node": f.node, "fused_from": list(f.fused_from), "saved_bytes": f.saved_bytes,
            "saved_bytes_by_memory": dict(f.saved_bytes_by_memory), "residual_add": True})
        summary["saved_activation_bytes"] = summary.get("saved_activation_bytes", 0) + f.saved_bytes
