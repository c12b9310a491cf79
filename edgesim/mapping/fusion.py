"""Residual ADD fusion, applied to the schedule, where the unit running each op is known.

A conv/FC whose only consumer is a residual ADD can add the residual in its output stage when the unit's runtime
fuses it (TensorRT, Vela): the conv output is never written and read back. This works on plans, so it is mapping.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.plan import MemTraffic, OpPlan, TileGroup
from edgesim.passes.fusion import sole_consumer

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
        add = sole_consumer(graph, mid)
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
