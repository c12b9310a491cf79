"""Place every op on a compute unit and count its work and traffic per memory level.

Ops a unit cannot run fall back to the profile's host unit, as NPU compilers (Vela, the Edge TPU compiler) do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from edgesim.errors import MappingError
from edgesim.hw.schema import (
    ComputeUnit,
    HardwareProfile,
    MemoryKind,
    Precision,
    RuntimeProfile,
    RuntimeVersion,
    UnitKind,
)
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpClass, OpKind
from edgesim.ir.work import NodeWork, node_work
from edgesim.mapping.compute import (
    _rate,
    compute_cycles,
    kernel_key,
)
from edgesim.mapping.contexts import context_layers, context_load, contexts_needed
from edgesim.mapping.host_link import frame_round_trip_s, host_transfer
from edgesim.mapping.memo import graph_memo, graph_signatures, plan_memo
from edgesim.mapping.plan import OpPlan, Schedule, TimingDiscipline
from edgesim.mapping.rows import row_window
from edgesim.mapping.sparsity import SparsityEffect, apply_to_work, sparsity_effect
from edgesim.mapping.tiling import DMA_UNIT_KINDS, Tiling, local_memory, tile_op


def unit_can_run(unit: ComputeUnit, node: Node, work: NodeWork) -> bool:
    if not unit.supports(node.op.value):
        return False
    table = unit.macs_per_cycle if node.op.op_class is OpClass.MAC else unit.elementwise_ops_per_cycle
    if unit.kind is not UnitKind.CPU:
        # Accelerators run only the precisions they list; a CPU can always emulate a wider type.
        by_label = {getattr(k, "value", k) for k, v in table.items() if v > 0}
        wanted = "int8" if work.precision == "int4" else work.precision
        return work.precision in by_label or wanted in by_label
    return _rate(table, work.precision) is not None


def _runtime_places_on(runtime: RuntimeProfile | None, unit: ComputeUnit) -> bool:
    """The runtime drives this unit: its kind is in applies_to and its device class in targets (if listed)."""
    if runtime is None:
        return True
    if runtime.applies_to and unit.kind not in runtime.applies_to:
        return False
    return not runtime.targets or unit.device in runtime.targets


def _runtime_supports(runtime: RuntimeProfile | None, node: Node, work: NodeWork) -> bool:
    """The runtime's accelerator backend has a kernel for this op (its op support list) at this precision."""
    if runtime is None:
        return True
    if runtime.supported_ops is not None and node.op.value not in runtime.supported_ops:
        return False
    precs = {p.value for p in runtime.precisions or ()}
    return not precs or work.precision in precs or (work.precision == "int4" and "int8" in precs)


def choose_unit(profile: HardwareProfile, runtime: RuntimeProfile | None, node: Node, work: NodeWork
                ) -> tuple[ComputeUnit, bool]:
    """(unit, fallback): the first accelerator the runtime drives that supports the op, else the host unit.

    An accelerator-only runtime (no host_fallback, or no target the host belongs to) that cannot place the op
    is refused with the device, runtime and op named, as the real compiler refuses the model."""
    host = profile.unit(profile.host_unit)
    targeted = []
    for unit in profile.units:
        if unit.name == profile.host_unit or not _runtime_places_on(runtime, unit):
            continue
        targeted.append(unit)
        if _runtime_supports(runtime, node, work) and unit_can_run(unit, node, work):
            return unit, False
    if runtime is not None and targeted and not runtime.host_fallback:
        raise MappingError(
            f"device {profile.id}, runtime {runtime.id}: op {node.op.value} at {work.precision} cannot be placed on "
            f"{', '.join(u.name for u in targeted)} and {runtime.id} has no CPU fallback", node=node.name)
    accelerators = [u for u in profile.units if u.name != profile.host_unit]
    if not unit_can_run(host, node, work):
        raise MappingError(
            f"no unit of profile '{profile.id}' can run {node.op.value} at {work.precision}", node=node.name
        )
    # A runtime that targets the host's device class (OpenVINO's CPU plugin, XNNPACK) placed the op where it
    # meant to: not a fallback even on a chip that also has accelerators.
    chosen = runtime is not None and bool(runtime.targets) and host.device in runtime.targets
    return host, bool(accelerators) and not chosen


def runs_as_view(graph: Graph, node: Node, version: RuntimeVersion | None = None) -> bool:
    """The op moves no data: a view op (reshape, squeeze), or a SPLIT the runtime release returns as views of its
    input (``RuntimeVersion.in_place_split``), which holds only when every dim before the split axis is 1 (each
    output is then one contiguous run of the input: nncase 2.11's stackvm split, tensor_ops.cpp)."""
    if node.op.op_class is OpClass.VIEW:
        return True
    if node.op is not OpKind.SPLIT or version is None or not version.in_place_split or not node.inputs:
        return False
    shape = graph.tensors[node.inputs[0]].shape
    axis = node.attrs.axis % len(shape) if shape else 0
    return all(d == 1 for d in shape[:axis])


def _live_activation_peak(graph: Graph, version: RuntimeVersion | None = None) -> tuple[int, dict[str, int]]:
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
        if runs_as_view(graph, node, version):
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


def _pick_memory(profile: HardwareProfile, unit: ComputeUnit, preferred: str, needed_bytes: int) -> str:
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


def _activation_preference(profile: HardwareProfile, runtime: RuntimeProfile | None, unit: ComputeUnit) -> str:
    """The memory a unit's activations go to first: the unit's memory of the runtime's ``activations_in`` kind
    (QNN's HTP keeps tensors in its VTCM and spills only what does not fit to DDR), else the profile's placement.
    _pick_memory still moves a live set that overflows it to a larger memory."""
    if runtime is not None and runtime.activations_in is not None:
        for m in profile.memories:
            if m.kind is runtime.activations_in and m.name in unit.memories:
                return m.name
    return profile.placement.activations


def _weight_memory(profile: HardwareProfile, runtime: RuntimeProfile | None, unit: ComputeUnit, model_weight_bytes: int = 0) -> str:
    """Where this unit reads weights from. A model whose weights overflow the preferred memory (e.g. the Edge TPU's
    8 MB parameter cache) streams them from the smallest reachable memory that holds them all (host link, DRAM)."""
    name = profile.placement.weights
    if runtime is not None and runtime.weights_in:
        for m in profile.memories:
            if m.kind is runtime.weights_in and m.name in unit.memories:
                name = m.name
                break
    reachable = [profile.memory(m) for m in unit.memories]
    if name not in unit.memories:
        return max(reachable, key=lambda m: m.size_bytes).name
    # A unit whose compiler splits the weights into contexts of at most context_weight_bytes (Hailo) holds each
    # context's share resident on chip while it runs: its weights are loaded at the context switch (the
    # runtime's context_switch cost, once per inference or batch), not streamed per frame.
    cap = unit.context_weight_bytes
    if cap and cap <= profile.memory(name).size_bytes:
        return name
    if profile.memory(name).size_bytes >= model_weight_bytes:
        return name
    holding = [m for m in reachable if m.size_bytes >= model_weight_bytes]
    return min(holding, key=lambda m: m.size_bytes).name if holding else name


def _parameter_cache(profile: HardwareProfile, unit: ComputeUnit, w_mem: str, weight_bytes: int, cached: int) -> tuple[str, int]:
    """(weight memory, bytes cached so far) for one op of an accelerator whose model overflows its on-chip weight
    memory. The Edge TPU compiler fills the parameter cache layer by layer in execution order and streams only the
    uncached rest over the host link each inference ("On-chip memory used for caching model parameters" / "Off-chip
    memory used for streaming uncached model parameters"), so the first layers keep the on-chip placement."""
    preferred = profile.placement.weights
    if (unit.kind not in DMA_UNIT_KINDS or w_mem == preferred or preferred not in unit.memories
            or not weight_bytes):
        return w_mem, cached
    pref = profile.memory(preferred)
    if pref.kind not in (MemoryKind.SRAM, MemoryKind.TCM):
        return w_mem, cached
    # The whole memory counts as cache: activations stream through in tiles (the Edge TPU's ~8 MB is documented as
    # the parameter cache, coral.ai/docs/edgetpu/compiler/#parameter-data-caching).
    if cached + weight_bytes <= pref.size_bytes:
        return preferred, cached + weight_bytes
    return w_mem, cached


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


# Vela's weight stream carries, per output channel, a 40-bit bias, a 32-bit scale and a 6-bit shift packed in
# 10 bytes (ethos-u-vela weight_compressor.py) in place of the int32 bias.
_BIAS_SCALE_BYTES_PER_CHANNEL = 10


# Order-0 entropy of weight arrays by identity (the array kept alive with its entry, so an id is never reused while
# keyed): the same weights mapped on another profile (an interval's perturbed chips, a sweep) are not counted again.
_ENTROPY_BITS: dict[int, tuple[object, float]] = {}
_ENTROPY_KEPT = 4096


def _order0_entropy_bits(data: object) -> float:
    hit = _ENTROPY_BITS.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    _, counts = np.unique(np.asarray(data).ravel(), return_counts=True)
    p = counts / counts.sum()
    bits = float(-(p * np.log2(p)).sum())
    if len(_ENTROPY_BITS) >= _ENTROPY_KEPT:
        _ENTROPY_BITS.clear()
    _ENTROPY_BITS[id(data)] = (data, bits)
    return bits


def _entropy_coded_ratio(graph: Graph | None, node: Node | None) -> float | None:
    """Stored / raw bytes of the node's constants when its 8-bit weights are entropy-coded (Vela's lossless
    palette + Golomb-Rice encoder gets within ~10% of the order-0 entropy; zeros of pruned models cost ~1 bit) and
    its biases become per-channel bias/scale records. None when the weight values are not known."""
    if graph is None or node is None or len(node.inputs) < 2 or not node.inputs[1]:
        return None
    w = graph.tensors[node.inputs[1]]
    if w.data is None or w.nbytes != w.num_elements or w.num_elements == 0:
        return None
    stored = w.num_elements * _order0_entropy_bits(w.data) / 8.0
    raw = w.nbytes
    for name in node.inputs[2:]:
        b = graph.tensors[name] if name else None
        if b is not None and b.is_const:
            stored += b.num_elements * _BIAS_SCALE_BYTES_PER_CHANNEL
            raw += b.nbytes
    return stored / raw


def _engine_compression(effect: SparsityEffect, work: NodeWork, unit: ComputeUnit, runtime: RuntimeProfile | None,
                        graph: Graph | None = None, node: Node | None = None) -> SparsityEffect:
    """Weights the runtime itself compresses for this unit (raw weights only: an explicit encoding wins): the
    entropy-coded size when the weight values are known, else the runtime's typical ratio."""
    ratio = runtime.weight_compression_ratio if runtime is not None else None
    if (runtime is None or ratio is None or work.stored_weight_bytes is not None or not work.macs
            or unit.kind not in runtime.applies_to):
        return effect
    coded = _entropy_coded_ratio(graph, node)
    return replace(effect, weight_bytes=int(round(effect.weight_bytes * (coded if coded is not None else ratio))))


def _timing(unit: ComputeUnit, tiling: Tiling) -> TimingDiscipline:
    """How the event engine times the op's tiles on ``unit``."""
    if unit.kind not in DMA_UNIT_KINDS:
        return TimingDiscipline.INTERLEAVED
    return TimingDiscipline.SCALESIM if tiling.follows_scalesim else TimingDiscipline.DOUBLE_BUFFERED


def _converter_precision(runtime: RuntimeProfile | None, graph: Graph, node: Node, work: NodeWork) -> NodeWork:
    """A float op on integer activations (float constant parameters, edgesim.ir.work.node_precision; a float
    table's lookup by integer ids) in a quantized graph: at its activations' precision when the runtime's
    converter quantizes every constant (quantizes_params), else at fp16 when the runtime's compiler computes
    floats at fp16 (float_models_as fp16: OpenVINO's NPU, GPU and MYRIAD plugins, RKNN), as it does a float
    model's ops, on its accelerator rather than a host fallback those compilers do not make."""
    if runtime is None or work.precision != "fp32":
        return work
    acts = [t for t in graph.input_tensors(node) if t is not None and not t.is_const]
    if not acts or not acts[0].dtype.is_integer:
        return work
    if runtime.quantizes_params:
        precision = {DType.INT8: "int8", DType.UINT8: "int8", DType.INT16: "int16"}.get(acts[0].dtype)
        return replace(work, precision=precision) if precision else work
    conversion = runtime.float_models_as
    if conversion is not None and conversion.precision is Precision.FP16:
        return replace(work, precision=Precision.FP16.value)
    return work


def _runtime_ops(runtime: RuntimeProfile, node: Node, work: NodeWork) -> int:
    """Ops the runtime executes for one graph op. A BatchNorm whose parameters the converter quantizes
    (quantizes_params) becomes a multiply and an add on integer activations: AI Hub's quantized DenseNet-121 has
    125 more layers than its float one (498 vs 373, layer counts in npu_vendor.csv's notes), two per BatchNorm."""
    if runtime.quantizes_params and node.op is OpKind.BATCH_NORM and work.precision in ("int4", "int8", "int16"):
        return 2
    return 1


def _place(profile: HardwareProfile, runtime: RuntimeProfile | None, version: RuntimeVersion | None, graph: Graph, node: Node, work: NodeWork, zero: float
           ) -> tuple[Any, bool, float, SparsityEffect, NodeWork]:
    """(unit, fallback, compute cycles, sparsity effect, work after it) of one op: what does not depend on where
    its tensors live."""
    work = _converter_precision(runtime, graph, node, work)
    unit, fallback = choose_unit(profile, runtime, node, work)
    cycles = compute_cycles(unit, graph, node, work, runtime, version)
    effect = sparsity_effect(work, unit, zero)
    effect = _engine_compression(effect, work, unit, runtime, graph, node)
    cycles = max(cycles * effect.mac_scale, effect.decode_cycles)
    return unit, fallback, cycles, effect, apply_to_work(work, effect)


def _tile(profile: HardwareProfile, graph: Graph, node: Node, placed: tuple[Any, bool, float, SparsityEffect, NodeWork],
          act_mem: str, w_mem: str) -> Tiling:
    unit, _, cycles, _, work = placed
    tiling = tile_op(graph, node, unit, profile, work, cycles, act_mem, w_mem)
    if unit.kind is UnitKind.SYSTOLIC and node.op.op_class is OpClass.MAC:
        from edgesim.mapping.systolic_seam import scalesim_tiling

        # SCALE-Sim's memory system (three scratchpads): its per-fold DRAM traffic, re-fetches included.
        tiling = scalesim_tiling(graph, node, unit, profile, cycles) or tiling
    return tiling


def _fuse_epilogues(graph: Graph, profile: HardwareProfile, runtime: RuntimeProfile,
                    plans: list[OpPlan]) -> list[OpPlan]:
    """SiLU / LeakyReLU first: a residual ADD after a fused activation then fuses into the same conv (conv + swish
    + sum); then detector post-processing into its NMS."""
    from edgesim.mapping.fusion import fuse_leaky_plans, fuse_residual_plans, fuse_silu_plans

    fusing = {u.name for u in profile.units if u.kind in runtime.applies_to}
    cpus = {u.name for u in profile.units if u.kind is UnitKind.CPU}
    tails: dict[str, str] = {}
    if runtime.fused_silu:
        fused, tails = fuse_silu_plans(graph, plans, fusing, cpus)
        plans = list(fused)
    if runtime.fused_leaky_relu:
        fused, leaky_tails = fuse_leaky_plans(graph, plans, fusing, cpus)
        plans = list(fused)
        # an ADD producer already used its output stage for the LeakyReLU: only conv/FC tails take a residual
        tails.update((t, c) for t, c in leaky_tails.items() if graph.node(c).op is not OpKind.ADD)
    if runtime.fused_residual_add:
        plans = list(fuse_residual_plans(graph, plans, fusing, cpus, tails))
    from edgesim.mapping.detect_fusion import fuse_postprocess_plans

    return list(fuse_postprocess_plans(graph, plans))  # every runtime's NMS layer decodes the boxes itself


def _prefetch(profile: HardwareProfile, runtime: RuntimeProfile, plans: list[OpPlan]) -> list[OpPlan]:
    """Weight prefetch on each DMA unit the runtime drives, within half of the unit's local memory."""
    from edgesim.mapping.prefetch import prefetch_weights

    for unit in profile.units:
        local = local_memory(profile, unit)
        if unit.kind in DMA_UNIT_KINDS and unit.kind in runtime.applies_to and local is not None:
            plans = prefetch_weights(plans, profile, frozenset({unit.name}), local.size_bytes // 2)
    return plans


def build_schedule(graph: Graph, profile: HardwareProfile, runtime: RuntimeProfile | None = None, version: RuntimeVersion | None = None,
                   activation_zero_fractions: Mapping[str, float] | None = None,
                   fuse_residual_add: bool = True) -> Schedule:
    """Place, cost and tile every op. ``activation_zero_fractions`` (node -> measured fraction of zero input
    activations, from the kernels) feeds units that skip zero activations. ``fuse_residual_add``: apply the
    runtime's epilogue fusions, conv/FC + SiLU (``fused_silu``) and conv/FC + residual ADD
    (``fused_residual_add``), on units the runtime drives (edgesim.mapping.fusion); False maps the graph as is."""

    peak, live_per_op = graph_memo(graph, "live activations", version, lambda: _live_activation_peak(graph, version))
    host = profile.unit(profile.host_unit)
    host_clock_hz = host.effective_clock_mhz(profile.clock_mhz) * 1e6
    overhead_scale = version.overhead_scale if version is not None else 1.0
    unit_clocked_overhead = runtime is not None and runtime.overhead_clock == "unit"
    plans: list[OpPlan] = []
    total_weights = 0
    memo = plan_memo(profile, runtime, version)
    with_data = runtime is not None and runtime.weight_compression_ratio is not None
    sigs = graph_signatures(graph, with_data)
    works = {n.name: memo.lookup(memo.works, sigs[n.name], partial(node_work, graph, n)) for n in graph.nodes}
    # the weight bytes apply_to_work would give each op on the host (the effect's), without copying every work
    model_weight_bytes = sum(sparsity_effect(w, profile.host).weight_bytes for w in works.values())
    cached_weight_bytes = 0  # weights placed so far in an on-chip parameter cache (_parameter_cache)
    wiring = graph_memo(graph, "op wiring", version, lambda: _op_wiring(graph, version))
    for node in graph.nodes:
        work = works[node.name]
        if wiring[node.name].is_view:
            plans.append(OpPlan(node.name, node.op.value, "-", work.precision, 0, 0, 0.0, (), 0.0, host_clock_hz,
                                fused_from=node.fused_from))
            continue
        sig = sigs[node.name]
        zero = (activation_zero_fractions or {}).get(node.name, 0.0)
        placed = memo.lookup(memo.placed, (sig, zero),
                             partial(_place, profile, runtime, version, graph, node, work, zero))
        unit, fallback, cycles, effect, work = placed
        clock_hz = unit.effective_clock_mhz(profile.clock_mhz) * 1e6
        act_mem = _pick_memory(profile, unit, _activation_preference(profile, runtime, unit),
                               live_per_op.get(node.name, peak))
        w_mem = _weight_memory(profile, runtime, unit, model_weight_bytes)
        w_mem, cached_weight_bytes = _parameter_cache(profile, unit, w_mem, work.weight_bytes, cached_weight_bytes)
        tiling = memo.lookup(memo.tilings, (sig, zero, act_mem, w_mem),
                             partial(_tile, profile, graph, node, placed, act_mem, w_mem))
        total_weights += work.weight_bytes
        per_op = (runtime.op_overhead_cycles(kernel_key(node), node.op.op_class.value) * overhead_scale
                  * _runtime_ops(runtime, node, work) if runtime is not None else 0.0)
        overhead = per_op * (1.0 if unit_clocked_overhead else clock_hz / host_clock_hz)
        plans.append(_node_plan(node, work, placed[:4], tiling, w_mem, overhead, clock_hz, wiring[node.name]))
    return _assemble(graph, profile, runtime, version, plans, fuse_residual_add, peak=peak,
                     model_weight_bytes=model_weight_bytes, total_weights=total_weights, host_clock_hz=host_clock_hz)


@dataclass(frozen=True)
class _OpWiring:
    """What of an op's plan follows from the graph (and the runtime release) alone."""

    is_view: bool  # runs_as_view: no plan of its own
    depends_on: tuple[str, ...]  # producer ops of its inputs, views looked through (_depends_on)
    row_window: tuple[int, int, int, int]  # rows.row_window


def _op_wiring(graph: Graph, version: RuntimeVersion | None) -> dict[str, _OpWiring]:
    """``_OpWiring`` of every op, by name: the same for every chip the graph is mapped on (memoised per graph)."""
    view_sources: dict[str, tuple[str, ...]] = {}
    out: dict[str, _OpWiring] = {}
    for node in graph.nodes:
        depends_on = _depends_on(graph, node, view_sources)
        is_view = runs_as_view(graph, node, version)
        if is_view:
            view_sources[node.name] = depends_on
        out[node.name] = _OpWiring(is_view, depends_on, row_window(graph, node))
    return out


def _node_plan(node: Node, work: NodeWork, placed: tuple[ComputeUnit, bool, float, SparsityEffect],
               tiling: Tiling, w_mem: str, overhead: float, clock_hz: float, wiring: _OpWiring) -> OpPlan:
    """The plan of one placed, tiled op (``placed``: its unit, whether that is a fallback, its compute cycles and
    sparsity effect)."""
    unit, fallback, cycles, effect = placed
    return OpPlan(
        node=node.name,
        op=node.op.value,
        unit=unit.name,
        precision=work.precision,
        macs=work.macs,
        elementwise_ops=work.elementwise_ops,
        compute_cycles=cycles,
        traffic=tiling.traffic,
        overhead_cycles=overhead,
        unit_clock_hz=clock_hz,
        tiles=tiling.groups,
        fallback=fallback,
        fused_from=node.fused_from,
        weight_bytes=work.weight_bytes,
        activation_bytes=work.input_bytes,
        output_bytes=work.output_bytes,
        depends_on=wiring.depends_on,
        local_memory=tiling.local_memory,
        tile_shape=tiling.tile_shape,
        loop_order=tiling.loop_order,
        timing=_timing(unit, tiling),
        fill_lead_cycles=tiling.fill_lead_cycles,
        row_window=wiring.row_window,
        weight_memory=w_mem if work.weight_bytes else "",
        notes=(effect.note,) if effect.note else (),
    )


def requests_in_flight(profile: HardwareProfile, runtime: RuntimeProfile | None) -> int | None:
    """Inference requests the device runs at once in a stream: the cores of the runtime's MAC unit (its largest
    one on the device classes it targets) over the cores one request gets; None when the runtime sets no
    limit."""
    if runtime is None or runtime.request_cores is None:
        return None
    cores = [u.count for u in profile.units if u.kind is UnitKind.MAC_ARRAY
             and (not runtime.targets or u.device_class in runtime.targets)]
    return max(1, max(cores, default=1) // runtime.request_cores)


def _assemble(graph: Graph, profile: HardwareProfile, runtime: RuntimeProfile | None,
              version: RuntimeVersion | None, plans: list[OpPlan], fuse_residual_add: bool, *, peak: int,
              model_weight_bytes: int, total_weights: int, host_clock_hz: float) -> Schedule:
    """The schedule of the placed plans: the runtime's epilogue fusions and weight prefetch applied, the
    per-inference and context-switch costs, and the notes on what does not fit where."""
    overhead_scale = version.overhead_scale if version is not None else 1.0
    act_pref = profile.placement.activations
    if fuse_residual_add and runtime is not None:
        plans = _fuse_epilogues(graph, profile, runtime, plans)
    if runtime is not None and runtime.weight_prefetch:
        plans = _prefetch(profile, runtime, plans)
    act_size = profile.memory(act_pref).size_bytes if act_pref else 0
    per_inf = (runtime.per_inference_overhead_cycles if runtime is not None else 0.0) * overhead_scale
    link = host_transfer(graph, profile, runtime)
    if link is not None:
        # A USB stick's input and output cross the host link every inference, on the host's clock as above.
        per_inf += link.seconds * host_clock_hz
    notes = []
    if peak > act_size:
        # The sizes are on the report's memory line and in the fit verdict, in the report's units.
        notes.append(f"peak activations exceed '{act_pref}': the excess spills to a larger memory where one exists")
    layers_per_op = runtime.layers_per_op if runtime is not None else None
    contexts = contexts_needed(profile, plans, layers_per_op)
    load_bytes, load_s = context_load(profile, plans)
    # A chip that loads its contexts from its own memory (ComputeUnit.context_memory) pays those bytes, not the
    # runtime's host-driven switch cycles (fitted where HailoRT loads every context over PCIe, Hailo-8L).
    host_switch_scale = overhead_scale if runtime is not None and not load_bytes else 0.0
    if contexts > 1:
        notes.append(f"weights or layers exceed one context of the accelerator: run as {contexts} contexts in sequence")
    w_pref = profile.placement.weights
    if model_weight_bytes > profile.memory(w_pref).size_bytes:
        notes.append(f"weights exceed '{w_pref}': they stream from a larger memory where one exists")
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
        inter_op_parallel=runtime is not None and runtime.inter_op_parallel,
        layer_pipelining=runtime is not None and runtime.layer_pipelining,
        requests_in_flight=requests_in_flight(profile, runtime),
        notes=tuple(notes),
        contexts=contexts,
        context_switch_cycles=(runtime.context_switch_cycles * host_switch_scale if runtime is not None else 0.0),
        context_layers=context_layers(profile, plans, layers_per_op),
        context_switch_layer_cycles=(runtime.context_switch_layer_cycles * host_switch_scale
                                     if runtime is not None else 0.0),
        context_load_bytes=load_bytes,
        context_load_s=load_s,
        frame_floor_s=frame_round_trip_s(profile, runtime),
    )
