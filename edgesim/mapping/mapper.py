"""Place every op on a compute unit and count its work and traffic per memory level.

Ops a unit cannot run fall back to the profile's host unit, as NPU compilers (Vela, the Edge TPU compiler) do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from edgesim.errors import MappingError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpClass, OpKind
from edgesim.ir.work import NodeWork, node_work
from edgesim.mapping.plan import OpPlan, Schedule
from edgesim.mapping.sparsity import SparsityEffect, apply_to_work, sparsity_effect
from edgesim.mapping.tiling import tile_op

# Precisions an integer unit may use for a wider/narrower request, best first.
_PRECISION_FALLBACK: dict[str, tuple[str, ...]] = {
    "int4": ("int4", "int8", "int16", "fp16", "fp32"),
    "int8": ("int8", "int16", "fp16", "fp32"),
    "int16": ("int16", "fp16", "fp32"),
    "int32": ("int16", "fp32"),
    "fp16": ("fp16", "fp32"),
    "fp32": ("fp32",),
}


def _rate(table: dict[Any, float], precision: str) -> tuple[str, float] | None:
    """The unit's rate for ``precision`` or the nearest precision it can run the op at."""
    by_label = {getattr(k, "value", k): v for k, v in table.items()}
    for p in _PRECISION_FALLBACK.get(precision, (precision,)):
        if p in by_label and by_label[p] > 0:
            return p, float(by_label[p])
    return None


def unit_can_run(unit: Any, node: Node, work: NodeWork) -> bool:
    if not unit.supports(node.op.value):
        return False
    table = unit.macs_per_cycle if node.op.op_class is OpClass.MAC else unit.elementwise_ops_per_cycle
    if unit.kind.value != "cpu":
        # Accelerators run only the precisions they list; a CPU can always emulate a wider type.
        by_label = {getattr(k, "value", k) for k, v in table.items() if v > 0}
        wanted = "int8" if work.precision == "int4" else work.precision
        return work.precision in by_label or wanted in by_label
    return _rate(table, work.precision) is not None


def choose_unit(profile: Any, runtime: Any, node: Node, work: NodeWork) -> tuple[Any, bool]:
    """(unit, fallback): the first accelerator that supports the op, else the host unit."""
    host = profile.unit(profile.host_unit)
    for unit in profile.units:
        if unit.name == profile.host_unit:
            continue
        if runtime is not None and runtime.applies_to and unit.kind.value not in runtime.applies_to:
            continue
        if unit_can_run(unit, node, work):
            return unit, False
    accelerators = [u for u in profile.units if u.name != profile.host_unit]
    if not unit_can_run(host, node, work):
        raise MappingError(
            f"no unit of profile '{profile.id}' can run {node.op.value} at {work.precision}", node=node.name
        )
    return host, bool(accelerators)


def _systolic_cycles(unit: Any, graph: Graph, node: Node) -> float:
    from edgesim.mapping.systolic import SystolicLayer, compute_cycles

    spec = unit.systolic
    rows, cols, flow = spec.rows, spec.cols, getattr(spec.dataflow, "value", spec.dataflow)
    x = graph.tensors[node.inputs[0]]
    out = graph.tensors[node.outputs[0]]
    if node.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
        a: A.ConvAttrs = node.attrs
        n = x.shape[0]
        hx, wx = (x.shape[1], x.shape[2]) if a.layout is A.Layout.NHWC else (x.shape[2], x.shape[3])
        c_in = x.shape[a.layout.channel_axis()]
        c_out = out.shape[a.layout.channel_axis()]
        kh = (a.kernel_hw[0] - 1) * a.dilation_hw[0] + 1
        kw = (a.kernel_hw[1] - 1) * a.dilation_hw[1] + 1
        ph, pw = hx + a.padding.top + a.padding.bottom, wx + a.padding.left + a.padding.right
        if node.op is OpKind.DEPTHWISE_CONV2D:
            # Each channel is an independent 1-channel convolution: the array maps channels onto columns.
            layer = SystolicLayer(ph, pw, kh, kw, 1, c_out, a.stride_hw[0], a.stride_hw[1])
            return float(n * compute_cycles(layer, rows, cols, flow).compute_cycles)
        groups = max(a.groups, 1)
        layer = SystolicLayer(ph, pw, kh, kw, c_in // groups, c_out // groups, a.stride_hw[0], a.stride_hw[1])
        return float(n * groups * compute_cycles(layer, rows, cols, flow).compute_cycles)
    if node.op is OpKind.FULLY_CONNECTED:
        w = graph.tensors[node.inputs[1]]
        k, n_out = w.shape[-1], w.shape[0]
        m = out.num_elements // n_out
        layer = SystolicLayer(1, m, 1, 1, k, n_out, 1, 1)
        return float(compute_cycles(layer, rows, cols, flow).compute_cycles)
    if node.op is OpKind.MATMUL:
        ma: A.MatMulAttrs = node.attrs
        k = x.shape[-2] if ma.transpose_a else x.shape[-1]
        m, n_out = out.shape[-2], out.shape[-1]
        batch = out.num_elements // (m * n_out)
        layer = SystolicLayer(1, m, 1, 1, k, n_out, 1, 1)
        return float(batch * compute_cycles(layer, rows, cols, flow).compute_cycles)
    raise MappingError(f"{node.op.value} has no systolic mapping", node=node.name)


def _efficiency(runtime: Any, version: Any, op: OpKind) -> float:
    if runtime is None:
        return 1.0
    eff = runtime.kernel_efficiency.get(op.value, runtime.kernel_efficiency["default"])
    scale = version.efficiency_scale if version is not None else 1.0
    return min(1.0, eff * scale)


def compute_cycles(unit: Any, graph: Graph, node: Node, work: NodeWork, runtime: Any, version: Any) -> float:
    if node.op.op_class is OpClass.VIEW:
        return 0.0
    eff = _efficiency(runtime, version, node.op)
    if node.op.op_class is OpClass.MAC:
        if unit.kind.value == "systolic" and unit.systolic is not None:
            return _systolic_cycles(unit, graph, node) / eff
        rate = _rate(unit.macs_per_cycle, work.precision)
        assert rate is not None
        return work.macs / (rate[1] * unit.count * eff)
    if work.elementwise_ops == 0:
        # Pure data movement (concat, pad, transpose): a copy, bounded by the memory system, one element per op.
        return work.output_elements / (unit.count * eff * 4.0)
    rate = _rate(unit.elementwise_ops_per_cycle, work.precision)
    assert rate is not None
    return work.elementwise_ops / (rate[1] * unit.count * eff)


def _live_activation_peak(graph: Graph) -> tuple[int, dict[str, int]]:
    """Peak bytes of simultaneously live activation tensors, in execution order, and the live set size per op."""
    last_use: dict[str, int] = {}
    for idx, node in enumerate(graph.nodes):
        for i in node.inputs:
            if i and not graph.tensors[i].is_const:
                last_use[i] = idx
    for o in graph.outputs:
        last_use[o] = len(graph.nodes)
    alias: set[str] = set()  # outputs of views share their input's storage
    for node in graph.nodes:
        if node.op.op_class is OpClass.VIEW:
            alias.update(node.outputs)
    live: dict[str, int] = {i: graph.tensors[i].nbytes for i in graph.inputs}
    peak = sum(live.values())
    per_op: dict[str, int] = {}
    for idx, node in enumerate(graph.nodes):
        for o in node.outputs:
            live[o] = 0 if o in alias else graph.tensors[o].nbytes
        current = sum(live.values())
        per_op[node.name] = current
        peak = max(peak, current)
        for name in list(live):
            if last_use.get(name, -1) <= idx and name not in graph.outputs:
                del live[name]
    return peak, per_op


def _pick_memory(profile: Any, unit: Any, preferred: str, needed_bytes: int) -> str:
    """``preferred`` if the unit reaches it and it is large enough, else the largest memory the unit reaches."""
    reachable = [profile.memory(m) for m in unit.memories]
    by_name = {m.name: m for m in reachable}
    if preferred in by_name and by_name[preferred].size_bytes >= needed_bytes:
        return preferred
    writable = [m for m in reachable if m.write_bw_bytes_per_cycle > 0]
    if not writable:
        raise MappingError(f"unit '{unit.name}' reaches no writable memory")
    fitting = [m for m in writable if m.size_bytes >= needed_bytes]
    if fitting:
        # The smallest memory that holds it is the fastest one in practice.
        return min(fitting, key=lambda m: m.size_bytes).name
    return max(writable, key=lambda m: m.size_bytes).name


def _weight_memory(profile: Any, runtime: Any, unit: Any, model_weight_bytes: int = 0) -> str:
    """Where this unit reads weights from. A model whose weights overflow the preferred memory (e.g. the Edge TPU's
    8 MB parameter cache) streams them from the smallest reachable memory that holds them all (host link, DRAM)."""
    name = profile.placement.weights
    if runtime is not None and runtime.weights_in:
        for m in profile.memories:
            if m.kind.value == runtime.weights_in and m.name in unit.memories:
                name = m.name
                break
    reachable = [profile.memory(m) for m in unit.memories]
    if name not in unit.memories:
        return max(reachable, key=lambda m: m.size_bytes).name
    if profile.memory(name).size_bytes >= model_weight_bytes:
        return name
    holding = [m for m in reachable if m.size_bytes >= model_weight_bytes]
    return min(holding, key=lambda m: m.size_bytes).name if holding else name


def _depends_on(graph: Graph, node: Node, view_sources: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Producer ops of the node's inputs; a view is looked through to the ops that produced its input."""
    deps: list[str] = []
    for name in node.inputs:
        producer = graph.producer(name) if name else None
        if producer is None:
            continue
        for d in view_sources.get(producer.name, (producer.name,)):
            if d not in deps:
                deps.append(d)
    return tuple(deps)


def _engine_compression(effect: SparsityEffect, work: NodeWork, unit: Any, runtime: Any) -> SparsityEffect:
    """Weights the runtime itself compresses for this unit (raw weights only: an explicit encoding wins)."""
    ratio = getattr(runtime, "weight_compression_ratio", None) if runtime is not None else None
    if (ratio is None or work.stored_weight_bytes is not None or not work.macs
            or unit.kind.value not in {getattr(k, "value", k) for k in runtime.applies_to}):
        return effect
    return replace(effect, weight_bytes=int(round(effect.weight_bytes * ratio)))


def build_schedule(graph: Graph, profile: Any, runtime: Any = None, version: Any = None,
                   activation_zero_fractions: Mapping[str, float] | None = None) -> Schedule:
    """Place, cost and tile every op. ``activation_zero_fractions`` (node -> measured fraction of zero input
    activations, from the kernels) feeds units that skip zero activations."""
    peak, live_per_op = _live_activation_peak(graph)
    act_pref = profile.placement.activations
    host = profile.unit(profile.host_unit)
    host_clock_hz = host.effective_clock_mhz(profile.clock_mhz) * 1e6
    overhead_scale = version.overhead_scale if version is not None else 1.0
    per_op_overhead_host = (runtime.per_op_overhead_cycles if runtime is not None else 0.0) * overhead_scale
    plans: list[OpPlan] = []
    total_weights = 0
    works = {n.name: node_work(graph, n) for n in graph.nodes}
    model_weight_bytes = sum(apply_to_work(w, sparsity_effect(w, profile.host)).weight_bytes for w in works.values())
    view_sources: dict[str, tuple[str, ...]] = {}
    for node in graph.nodes:
        work = works[node.name]
        if node.op.op_class is OpClass.VIEW:
            view_sources[node.name] = _depends_on(graph, node, view_sources)
            plans.append(OpPlan(node.name, node.op.value, "-", work.precision, 0, 0, 0.0, (), 0.0, host_clock_hz,
                                fused_from=node.fused_from))
            continue
        unit, fallback = choose_unit(profile, runtime, node, work)
        clock_hz = unit.effective_clock_mhz(profile.clock_mhz) * 1e6
        cycles = compute_cycles(unit, graph, node, work, runtime, version)
        effect = sparsity_effect(work, unit, (activation_zero_fractions or {}).get(node.name, 0.0))
        effect = _engine_compression(effect, work, unit, runtime)
        cycles = max(cycles * effect.mac_scale, effect.decode_cycles)
        work = apply_to_work(work, effect)
        act_mem = _pick_memory(profile, unit, act_pref, live_per_op.get(node.name, peak))
        w_mem = _weight_memory(profile, runtime, unit, model_weight_bytes)
        tiling = tile_op(graph, node, unit, profile, work, cycles, act_mem, w_mem)
        total_weights += work.weight_bytes
        mem_traffic = tiling.traffic
        overhead = per_op_overhead_host * clock_hz / host_clock_hz
        plans.append(
            OpPlan(
                node=node.name,
                op=node.op.value,
                unit=unit.name,
                precision=work.precision,
                macs=work.macs,
                elementwise_ops=work.elementwise_ops,
                compute_cycles=cycles,
                traffic=mem_traffic,
                overhead_cycles=overhead,
                unit_clock_hz=clock_hz,
                tiles=tiling.groups,
                fallback=fallback,
                fused_from=node.fused_from,
                weight_bytes=work.weight_bytes,
                activation_bytes=work.input_bytes,
                output_bytes=work.output_bytes,
                depends_on=_depends_on(graph, node, view_sources),
                local_memory=tiling.local_memory,
                tile_shape=tiling.tile_shape,
                loop_order=tiling.loop_order,
                notes=(effect.note,) if effect.note else (),
            )
        )
    act_size = profile.memory(act_pref).size_bytes if act_pref else 0
    per_inf = (runtime.per_inference_overhead_cycles if runtime is not None else 0.0) * overhead_scale
    notes = []
    if peak > act_size:
        notes.append(
            f"activations need {peak} bytes at peak but '{act_pref}' holds {act_size}: the excess spills"
        )
    w_pref = profile.placement.weights
    if model_weight_bytes > profile.memory(w_pref).size_bytes:
        notes.append(f"weights need {model_weight_bytes} bytes but '{w_pref}' holds "
                     f"{profile.memory(w_pref).size_bytes}: they stream from a larger memory where one exists")
    return Schedule(
        model=graph.name,
        hw=profile.id,
        runtime=(f"{runtime.id}@{version.version}" if runtime is not None and version is not None
                 else (runtime.id if runtime is not None else "none")),
        plans=tuple(plans),
        per_inference_overhead_cycles=per_inf,
        host_clock_hz=host_clock_hz,
        peak_activation_bytes=peak,
        activation_memory=act_pref,
        activation_memory_bytes=act_size,
        weight_memory=profile.placement.weights,
        total_weight_bytes=total_weights,
        notes=tuple(notes),
    )

