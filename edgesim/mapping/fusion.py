"""Epilogue fusions applied to the schedule, where the unit running each op is known.

A conv/FC whose only consumer is a residual ADD can add the residual in its output stage when the unit's runtime
fuses it (TensorRT, Vela): the conv output is never written and read back. A conv/FC followed by SiLU written as
SIGMOID + MUL(x, sigmoid(x)) (how YOLOv5/v8/11 and EfficientNet export it) runs the two as the conv's epilogue
when the runtime fuses SiLU (OpenVINO's Swish post-op): neither the conv output nor the sigmoid is written and
read back, and there is one dispatch instead of three. A conv followed by LeakyReLU runs it in the output stage
when the runtime fuses it (Intel NPU's PPE). This works on plans, so it is mapping.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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


def residual_adds(graph: Graph, silu_tails: Mapping[str, str] | None = None) -> tuple[ResidualAdd, ...]:
    """Every conv/FC -> ADD pair a fusing runtime can merge into one op (conv epilogue adds the residual).
    ``silu_tails`` (MUL node -> conv node, from ``silu_epilogues``): a conv whose SiLU is already fused writes the
    MUL's output, so a residual ADD after that MUL fuses into the conv as well (conv + SiLU + sum post-ops).

    The ADD must not broadcast (TensorRT's conv+elementwise fusion requires it, and an epilogue reads one residual
    element per output element) and must not read a constant (that is a bias, folded elsewhere)."""
    found: dict[str, ResidualAdd] = {}
    tails = silu_tails or {}
    for node in graph.nodes:
        if (node.op not in _RESIDUAL_PRODUCERS and node.name not in tails) or len(node.outputs) != 1:
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
        found[add.name] = ResidualAdd(tails.get(node.name, node.name), add.name, mid, other)
    return tuple(found.values())


@dataclass(frozen=True)
class SiluEpilogue:
    """A conv/FC whose output x feeds only SIGMOID(x) and MUL(x, sigmoid(x)): SiLU / Swish as two graph ops."""

    producer: str  # the conv/FC node
    sigmoid: str
    mul: str


def silu_epilogues(graph: Graph) -> tuple[SiluEpilogue, ...]:
    """Every conv/FC -> SIGMOID -> MUL(x, sigmoid(x)) chain a runtime fusing SiLU runs as one op. The conv output
    must feed nothing else (else it is written anyway) and the sigmoid only the MUL."""
    found = []
    for node in graph.nodes:
        if node.op not in _RESIDUAL_PRODUCERS or len(node.outputs) != 1 or node.outputs[0] in graph.outputs:
            continue
        x = node.outputs[0]
        cons = graph.consumers(x)
        sig = next((c for c in cons if c.op is OpKind.SIGMOID and c.inputs == (x,)), None)
        if len(cons) != 2 or sig is None or len(sig.outputs) != 1:
            continue
        mul = sole_consumer(graph, sig.outputs[0])
        if mul is None or mul.op is not OpKind.MUL or sorted(mul.inputs) != sorted((x, sig.outputs[0])):
            continue
        if mul not in cons:
            continue
        found.append(SiluEpilogue(node.name, sig.name, mul.name))
    return tuple(found)


def _merge_epilogue(conv: OpPlan, parts: Sequence[OpPlan], cpu: bool) -> OpPlan:
    """One plan doing ``conv`` and the elementwise ``parts`` after it on its output: it reads what the conv read
    and writes the last part's output; the parts' own reads and the intermediate writes are gone, and so are
    their dispatches (the merged plan keeps the conv's overhead)."""
    totals: dict[str, list[int]] = {}
    for t in conv.traffic:
        totals.setdefault(t.memory, [0, 0])[0] += t.read_bytes
    for t in parts[-1].traffic:
        totals.setdefault(t.memory, [0, 0])[1] += t.write_bytes
    traffic = tuple(MemTraffic(k, r, w) for k, (r, w) in totals.items())
    # A CPU evaluates the epilogue in the conv's store loop (its vector ALU still does the work); an
    # accelerator's output stage (activation LUT + multiplier) works while the MAC array computes the next block.
    act = sum(p.compute_cycles for p in parts)
    cycles = conv.compute_cycles + act if cpu else max(conv.compute_cycles, act)
    return replace(
        conv, elementwise_ops=conv.elementwise_ops + sum(p.elementwise_ops for p in parts),
        compute_cycles=cycles, traffic=traffic, tiles=_spread_tiles(conv.tiles, cycles, traffic),
        fused_from=(*(conv.fused_from or (conv.node,)), *(n for p in parts for n in (p.fused_from or (p.node,)))),
        notes=(*conv.notes, *(n for p in parts for n in p.notes)), output_bytes=parts[-1].output_bytes,
    )


def _fuse_chains(plans: Sequence[OpPlan], chains: Sequence[tuple[str, tuple[str, ...]]],
                 fusing_units: Collection[str], serial_units: Collection[str]
                 ) -> tuple[tuple[OpPlan, ...], dict[str, str]]:
    """Merge each (producer, epilogue nodes in order) chain whose ops all sit on one of ``fusing_units`` (none a
    host fallback) into the producer's plan (``_merge_epilogue``); ``serial_units`` (CPUs) compute the epilogue
    after the MACs, not alongside. The merged plan keeps the producer's name and place; plans that waited for an
    epilogue node wait for it instead. Returns the plans and each fused chain's last node -> producer."""
    by_name = {p.node: p for p in plans}
    merged: dict[str, OpPlan] = {}
    renamed: dict[str, str] = {}  # epilogue node -> producer
    tails: dict[str, str] = {}
    for producer, parts in chains:
        found = [by_name.get(n) for n in (producer, *parts)]
        ops = [p for p in found if p is not None]
        if (len(ops) != len(found) or len({p.unit for p in ops}) != 1 or ops[0].unit not in fusing_units
                or any(p.fallback for p in ops)):
            continue
        merged[producer] = _merge_epilogue(ops[0], ops[1:], ops[0].unit in serial_units)
        renamed.update((n, producer) for n in parts)
        tails[parts[-1]] = producer
    if not merged:
        return tuple(plans), {}
    return _replace_plans(plans, set(renamed), merged, renamed), tails


def fuse_silu_plans(graph: Graph, plans: Sequence[OpPlan], fusing_units: Collection[str],
                    serial_units: Collection[str] = ()) -> tuple[tuple[OpPlan, ...], dict[str, str]]:
    """Merge the plans of every ``silu_epilogues`` chain (conv/FC, SIGMOID, MUL) into the conv's plan
    (``_fuse_chains``). Returns the plans and the fused chains as MUL node -> conv node (for ``residual_adds``)."""
    chains = [(e.producer, (e.sigmoid, e.mul)) for e in silu_epilogues(graph)]
    return _fuse_chains(plans, chains, fusing_units, serial_units)


@dataclass(frozen=True)
class LeakyEpilogue:
    """A conv/FC/ADD whose output feeds only a LEAKY_RELU."""

    producer: str
    leaky: str


# The NCE ops whose PPE applies a LeakyReLU post-op (NPU37XX: Convolution, GroupConvolution, AvgPool, Add,
# MatMul; not MaxPool). edgesim's graph keeps AvgPool + LeakyReLU apart (no zoo network has it).
_LEAKY_PRODUCERS = (*_RESIDUAL_PRODUCERS, OpKind.ADD)


def leaky_epilogues(graph: Graph) -> tuple[LeakyEpilogue, ...]:
    """Every producer -> LEAKY_RELU pair a runtime fusing LeakyReLU runs as one op: the producer's output must feed
    only the LeakyReLU and not be a graph output (else it is written anyway)."""
    found = []
    for node in graph.nodes:
        if node.op not in _LEAKY_PRODUCERS or len(node.outputs) != 1 or node.outputs[0] in graph.outputs:
            continue
        act = sole_consumer(graph, node.outputs[0])
        if act is not None and act.op is OpKind.LEAKY_RELU and act.inputs == node.outputs:
            found.append(LeakyEpilogue(node.name, act.name))
    return tuple(found)


def fuse_leaky_plans(graph: Graph, plans: Sequence[OpPlan], fusing_units: Collection[str],
                     serial_units: Collection[str] = ()) -> tuple[tuple[OpPlan, ...], dict[str, str]]:
    """Merge the plans of every ``leaky_epilogues`` pair into the producer's plan (``_fuse_chains``). Returns the
    plans and the fused pairs as LeakyReLU node -> producer node (a residual ADD after the LeakyReLU then fuses
    into the producer too)."""
    chains = [(e.producer, (e.leaky,)) for e in leaky_epilogues(graph)]
    return _fuse_chains(plans, chains, fusing_units, serial_units)


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
                        serial_units: Collection[str] = (),
                        silu_tails: Mapping[str, str] | None = None) -> tuple[OpPlan, ...]:
    """Merge the plans of every ``residual_adds`` pair placed on one of ``fusing_units`` (the units whose runtime
    fuses a residual ADD into the conv output stage); ``serial_units`` (CPUs) add after the MACs, not alongside.

    The merged plan keeps the conv's name and takes the ADD's place in the order (every input of both is ready
    there); later plans that waited for the ADD wait for it instead."""
    by_name = {p.node: p for p in plans}
    merged: dict[str, OpPlan] = {}  # add name -> fused plan
    dropped: set[str] = set()
    renamed: dict[str, str] = {}
    for r in residual_adds(graph, silu_tails):
        conv, add = by_name.get(r.producer), by_name.get(r.add)
        if (conv is None or add is None or conv.unit != add.unit or conv.unit not in fusing_units
                or conv.fallback or add.fallback):
            continue
        merged[r.add] = _merge_plans(conv, add, graph.tensors[r.residual].nbytes, conv.unit in serial_units)
        dropped.add(r.producer)
        renamed[r.add] = r.producer
    if not merged:
        return tuple(plans)
    return _replace_plans(plans, dropped, merged, renamed)


def _replace_plans(plans: Sequence[OpPlan], drop: set[str], merged: dict[str, OpPlan],
                   renamed: dict[str, str]) -> tuple[OpPlan, ...]:
    """``plans`` without the absorbed ones, each fused plan in its producer's place, and dependencies on an
    absorbed op redirected to the op that now runs it."""
    out = []
    for p in plans:
        if p.node in drop:
            continue
        p = merged.get(p.node, p)
        if any(d in renamed for d in p.depends_on):
            p = replace(p, depends_on=tuple(dict.fromkeys(renamed.get(d, d) for d in p.depends_on)))
        out.append(p)
    return tuple(out)


@dataclass(frozen=True)
class ScheduledFusion:
    """An epilogue (residual ADD and/or SiLU) fused at mapping time, and the activation bytes it no longer moves,
    per memory."""

    node: str
    fused_from: tuple[str, ...]
    saved_bytes_by_memory: tuple[tuple[str, int], ...]
    residual_add: bool = True  # False: a SiLU epilogue alone

    @property
    def saved_bytes(self) -> int:
        return sum(b for _, b in self.saved_bytes_by_memory)


def scheduled_fusions(unfused: Sequence[OpPlan], fused: Sequence[OpPlan]) -> tuple[ScheduledFusion, ...]:
    """Compare plans before and after the epilogue fusions: traffic of the parts minus that of the fused op."""
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
        groups.append(ScheduledFusion(p.node, p.fused_from, tuple(sorted((m, b) for m, b in moved.items() if b)),
                                      residual_add=any(q.op == OpKind.ADD.value for q in parts)))
    return tuple(groups)


def record_scheduled_fusions(summary: dict[str, Any], unfused: Sequence[OpPlan], fused: Sequence[OpPlan]) -> None:
    """Add the residual fusions of a schedule to a CLI fusion summary (``groups`` + ``saved_activation_bytes``)."""
    for f in scheduled_fusions(unfused, fused):
        summary.setdefault("groups", []).append({
            "node": f.node, "fused_from": list(f.fused_from), "saved_bytes": f.saved_bytes,
            "saved_bytes_by_memory": dict(f.saved_bytes_by_memory), "residual_add": f.residual_add})
        summary["saved_activation_bytes"] = summary.get("saved_activation_bytes", 0) + f.saved_bytes
