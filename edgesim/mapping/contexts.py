"""Contexts of a dataflow accelerator (Hailo): how many times a network's weights and layers must be swapped
into the chip per inference, counting layers as the compiler does."""

from __future__ import annotations

from collections.abc import Mapping

from edgesim.hw.schema import HardwareProfile
from edgesim.ir.ops import OpClass, OpKind
from edgesim.mapping.plan import OpPlan


def contexts_needed(profile: HardwareProfile, plans: tuple[OpPlan, ...] | list[OpPlan],
                    layers_per_op: Mapping[str, int] | None = None) -> int:
    """Contexts a dataflow compiler splits the network into: for every unit with a per-context capacity, the
    weights placed on it over its context_weight_bytes and its hardware layers over count x
    context_layers_per_core (each rounded up); 1 when every unit holds its share at once."""
    per_unit: dict[str, int] = {}
    for p in plans:
        per_unit[p.unit] = per_unit.get(p.unit, 0) + p.weight_bytes
    n = 1
    for u in profile.units:
        cap = u.context_weight_bytes
        if cap and per_unit.get(u.name, 0) > cap:
            n = max(n, -(-per_unit[u.name] // cap))
        if u.context_layers_per_core:
            layers = hardware_layers(plans, u.name, layers_per_op)
            n = max(n, -(-layers // (u.context_layers_per_core * u.count)))
    return n


def context_layers(profile: HardwareProfile, plans: tuple[OpPlan, ...] | list[OpPlan],
                   layers_per_op: Mapping[str, int] | None = None) -> int:
    """Hardware layers on the units that run in contexts (a context_weight_bytes or context_layers_per_core)."""
    return sum(hardware_layers(plans, u.name, layers_per_op) for u in profile.units
               if u.context_weight_bytes or u.context_layers_per_core)


def hardware_layers(plans: tuple[OpPlan, ...] | list[OpPlan], unit: str,
                    layers_per_op: Mapping[str, int] | None = None) -> int:
    """Layers ``unit`` runs as a dataflow compiler counts them: every plan on it except views and the
    activations that are part of their conv/FC layer (an activation reading only conv/FC outputs, and the MUL of
    a SiLU, x * sigmoid(x), whose sigmoid is such an activation); an op the compiler decomposes counts as
    ``layers_per_op[op]`` layers. Hailo's network format gives a conv layer its activation (hailo_model_zoo
    cfg/alls: change_output_activation(conv42, sigmoid)), but a pooling, concat or elementwise add is a layer of
    its own with its own resources, even a max-pool fed straight by a conv (hailo_model_zoo
    cfg/alls/hailo15h/base/yolov11m.alls: compilation_param(maxpool1, ...), buffers(conv42, maxpool1, ...),
    compilation_param(concat1, ...), compilation_param(ew_add1, ...))."""
    ops = {p.node: OpKind(p.op) if p.op in OpKind.__members__ else None for p in plans}
    epilogue: set[str] = set()
    for p in plans:
        kind = ops[p.node]
        if kind is None or not p.depends_on:
            continue
        producers = [ops.get(d) for d in p.depends_on]
        if kind.op_class is OpClass.ACTIVATION and all(k is not None and k.op_class is OpClass.MAC
                                                       for k in producers):
            epilogue.add(p.node)
        elif kind is OpKind.MUL and len(p.depends_on) == 2 and any(d in epilogue for d in p.depends_on):
            epilogue.add(p.node)
    per_op = layers_per_op or {}
    count = 0
    for p in plans:
        kind = ops[p.node]
        if p.unit == unit and p.node not in epilogue and (kind is None or kind.op_class is not OpClass.VIEW):
            count += per_op.get(p.op, 1)
    return count


def context_load(profile: HardwareProfile, plans: tuple[OpPlan, ...] | list[OpPlan]) -> tuple[int, float]:
    """(bytes, seconds) a switch of the whole network reads into the chip when the chip loads its
    contexts itself: for every unit running in contexts that names a context_memory, the weights placed on it,
    read at that memory's bandwidth (HailoRT's configuration buffers hold "weights and layer configurations",
    hailort memory_requirements_calculator.cpp; the 10H's live in its on-module DRAM). (0, 0.0) when no unit
    names one: the runtime's host-driven switch cost applies instead."""
    total = 0
    seconds = 0.0
    for u in profile.units:
        if u.context_memory is None or not (u.context_weight_bytes or u.context_layers_per_core):
            continue
        nbytes = sum(p.weight_bytes for p in plans if p.unit == u.name)
        total += nbytes
        seconds += nbytes / profile.memory(u.context_memory).read_bw_bytes_per_s(profile.clock_mhz)
    return total, seconds
