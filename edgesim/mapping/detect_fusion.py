"""Detector post-processing run as one layer: the box decode and score ops feeding an NMS fuse into it.

Deployed detectors do not dispatch box decoding op by op: OpenVINO converts the TF OD API SSD tail to one
DetectionOutput layer (decode against the priors + NMS; docs.openvino.ai DetectionOutput-8 spec), TFLite to one
TFLite_Detection_PostProcess custom op (box encodings, class scores and anchors in, kept boxes out), Hailo's
``nms_postprocess`` does decode and NMS in one step on the chip, and TensorRT's EfficientNMS plugin decodes with
its ``box_coding``. So the elementwise/activation ops that only feed the NMS (and the slices/splits/concats
between them) become one plan with one dispatch: their work stays, their per-op overhead goes.

The fused work runs where the NMS runs (its unit, its rate), whichever units the decode ops were placed on one by
one (an int8 graph's fp32 decode ops would fall back to the host; OpenVINO's NPU compiler runs the whole
DetectionOutput as one SHAVE kernel). This works on plans, so it is mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpClass, OpKind
from edgesim.mapping.fusion import _replace_plans, _spread_tiles
from edgesim.mapping.plan import MemTraffic, OpPlan

_MOVERS = (OpClass.DATA, OpClass.VIEW)  # absorbed only between absorbed ops, never at the cone's entry


def _ancestors(graph: Graph, nms: Node) -> set[str]:
    """Non-MAC ops upstream of the NMS, stopping at MAC ops and graph inputs."""
    seen: set[str] = set()
    stack = [t for t in nms.inputs if t]
    while stack:
        p = graph.producer(stack.pop())
        if p is None or p.name in seen or p.op.op_class is OpClass.MAC:
            continue
        seen.add(p.name)
        stack.extend(t for t in p.inputs if t and not graph.tensors[t].is_const)
    return seen


def postprocess_cone(graph: Graph, nms: Node) -> tuple[str, ...]:
    """The ops computed only for ``nms``: every consumer is in the cone (or the NMS), no output leaves the graph,
    and a data-movement op's inputs come from the cone (so the heads' own reshapes and concats stay out)."""
    by_name = {n.name: n for n in graph.nodes}
    cone = _ancestors(graph, nms)
    changed = True
    while changed:  # removals cascade upstream and downstream until stable
        changed = False
        for name in list(cone):
            n = by_name[name]
            bad = any(o in graph.outputs for o in n.outputs) or any(
                c.name not in cone and c.name != nms.name for o in n.outputs for c in graph.consumers(o))
            if n.op.op_class in _MOVERS:
                bad = bad or any((src := graph.producer(t)) is None or src.name not in cone
                                 for t in n.inputs if t and not graph.tensors[t].is_const)
            if bad:
                cone.discard(name)
                changed = True
    return tuple(n.name for n in graph.nodes if n.name in cone)


def _merge(nms: OpPlan, parts: list[OpPlan]) -> OpPlan:
    """The NMS kernel does the parts' arithmetic at its own rate (its cycles per op); parts on its unit keep their
    traffic (a conservative bound: the intermediates may stay in registers), parts elsewhere bring none (the
    kernel reads the raw predictions where it runs instead of the decoded boxes, the same order of bytes)."""
    everything = [*parts, nms]
    names = {p.node for p in everything}
    totals: dict[str, list[int]] = {}
    for p in everything:
        for t in p.traffic if p.unit == nms.unit else ():
            acc = totals.setdefault(t.memory, [0, 0])
            acc[0] += t.read_bytes
            acc[1] += t.write_bytes
    traffic = tuple(MemTraffic(k, r, w) for k, (r, w) in totals.items())
    ops = sum(p.elementwise_ops for p in everything)
    cycles = nms.compute_cycles * ops / max(nms.elementwise_ops, 1)
    deps = tuple(dict.fromkeys(d for p in everything for d in p.depends_on if d not in names))
    return replace(nms, elementwise_ops=ops, compute_cycles=cycles, traffic=traffic,
                   tiles=_spread_tiles(nms.tiles, cycles, traffic), depends_on=deps,
                   fused_from=tuple(p.node for p in everything), notes=tuple(n for p in everything for n in p.notes))


def fuse_postprocess_plans(graph: Graph, plans: Sequence[OpPlan]) -> tuple[OpPlan, ...]:
    """Merge each NMS's ``postprocess_cone`` into the NMS plan, wherever the cone's ops were placed."""
    by_name = {p.node: p for p in plans}
    merged: dict[str, OpPlan] = {}
    renamed: dict[str, str] = {}
    for node in graph.nodes:
        nms = by_name.get(node.name)
        if node.op is not OpKind.NON_MAX_SUPPRESSION or nms is None:
            continue
        parts = [by_name[n] for n in postprocess_cone(graph, node) if n in by_name]
        if not parts:
            continue
        merged[node.name] = _merge(nms, parts)
        renamed.update({p.node: node.name for p in parts})
    if not merged:
        return tuple(plans)
    return _replace_plans(plans, set(renamed), merged, renamed)
