"""The per-op cycle model: how many cycles of a compute unit one op takes, from the unit's MAC/element rates at
the precision the kernel computes in, the runtime's kernel efficiencies and the unit's cores. Both cost paths
(the analytic estimate and the event engine) read it through the schedule's plans."""

from __future__ import annotations

from typing import Any

from edgesim.hw.cpu_isa import core_int8
from edgesim.hw.schema import (
    POINTWISE_CONV,
    REGION_YOLO,
    ComputeUnit,
    Precision,
    RuntimeProfile,
    RuntimeVersion,
    UnitKind,
)
from edgesim.hw.systolic import ceil_div
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpClass, OpKind
from edgesim.ir.work import NodeWork
from edgesim.mapping.fixed_rate import fixed_rate_cycles
from edgesim.mapping.gpu import grouped_conv_factor
from edgesim.mapping.granule import padded_mac_factor
from edgesim.mapping.tiling import DMA_UNIT_KINDS

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


def _systolic_cycles(unit: ComputeUnit, graph: Graph, node: Node) -> float:
    from edgesim.mapping.systolic import compute_cycles
    from edgesim.mapping.systolic_seam import systolic_layer

    spec = unit.systolic
    assert spec is not None  # callers check the unit kind
    layer, repeats = systolic_layer(graph, node)
    return float(repeats * compute_cycles(layer, spec.rows, spec.cols, spec.dataflow.value).compute_cycles)


def kernel_key(node: Node) -> str:
    """The runtime kernel-efficiency key of a node: its op kind, CONV2D_1X1 for a pointwise convolution, or
    REGION_YOLO for the YOLO v3 output layer (UNARY_MATH region_yolo: runtimes run it with its own kernel)."""
    if node.op is OpKind.UNARY_MATH and node.attrs.fn == "region_yolo":
        return REGION_YOLO
    if node.op is OpKind.CONV2D and tuple(node.attrs.kernel_hw) == (1, 1) and max(node.attrs.groups, 1) == 1:
        return POINTWISE_CONV
    return node.op.value


def _mac_block_cycles(spec: Any, graph: Graph, node: Node, work: NodeWork) -> float:
    """Datapath cycles of a MAC op on a block-stepping NPU (Ethos-U, as Vela's npu_performance.py estimates them):
    whole output micro-blocks x kernel positions x input-channel blocks, or the output stage if that is slower."""
    from edgesim.ir import attrs as A

    uh, uw, ud = spec.ofm_ublock_hwc
    out = graph.tensors[node.outputs[0]]
    if node.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D) and len(out.shape) == 4:
        a: A.ConvAttrs = node.attrs
        x = graph.tensors[node.inputs[0]]
        hax, wax = a.layout.spatial_axes()
        cax = a.layout.channel_axis()
        n, oh, ow, oc = out.shape[0], out.shape[hax], out.shape[wax], out.shape[cax]
        k = a.kernel_hw[0] * a.kernel_hw[1]
        c_in = x.shape[cax] // max(a.groups, 1)
        depthwise = node.op is OpKind.DEPTHWISE_CONV2D or (a.groups > 1 and c_in == 1)
    else:
        # FC / matmul: one output position per row, the reduction over the input features.
        oc = out.shape[-1] if out.shape else 1
        n, oh, ow = 1, max(1, out.num_elements // max(oc, 1)), 1
        k, c_in, depthwise = 1, max(1, work.macs // max(out.num_elements, 1)), False
    xy_blocks = ceil_div(oh, uh) * ceil_div(ow, uw)
    if depthwise:
        steps = ceil_div(k, spec.kernel_positions_per_step)
    else:
        # Depth-first (every kernel position over ifm_block_depth channels) or, for few input channels,
        # part-kernel-first (several kernel positions over ifm_ublock_depth channels): the compiler takes the faster.
        steps = min(k * ceil_div(c_in, spec.ifm_block_depth),
                    ceil_div(k, spec.kernel_positions_per_step) * ceil_div(c_in, spec.ifm_ublock_depth))
    dpu = n * ceil_div(oc, ud) * steps * max(spec.min_cycles_per_step, spec.cycles_per_step * xy_blocks)
    return float(max(dpu, out.num_elements / spec.output_elements_per_cycle))


def _efficiency(runtime: RuntimeProfile | None, version: RuntimeVersion | None, node: Node, unit: ComputeUnit | None = None,
                work: NodeWork | None = None) -> float:
    return kernel_efficiency(runtime, version, resweep_key(runtime, unit, node, work), unit)


def resweep_key(runtime: RuntimeProfile | None, unit: ComputeUnit | None, node: Node, work: NodeWork | None) -> str:
    """The kernel key an op runs at: its own, or for a kernel that re-reads its weights for every output pixel
    (RuntimeProfile.weight_resweep) the cached rate while the layer's weights fit the unit's weight cache and the
    streamed rate once every pixel fetches them again from the memory behind it."""
    key = kernel_key(node)
    sweep = runtime.weight_resweep if runtime is not None else None
    if sweep is None or unit is None or unit.weight_cache_bytes is None or work is None or key not in sweep.ops:
        return key  # no weight cache modelled on this unit: the runtime's per-kernel rates as they are
    return sweep.cached if work.weight_bytes <= unit.weight_cache_bytes else sweep.streamed


def kernel_efficiency(runtime: RuntimeProfile | None, version: RuntimeVersion | None, key: str,
                      unit: ComputeUnit | None = None) -> float:
    """Fraction of the unit's peak a runtime's kernel for ``key`` reaches: the runtime's efficiency (per unit
    kind), its release's scale and the core's own scale, capped at 1. The one lookup both cost paths and the
    calibration use."""
    if runtime is None:
        return 1.0
    eff = runtime.efficiency_for(key, unit.kind.value if unit is not None else None,
                                 unit.gpu_arch if unit is not None else None)
    kind = unit.kind if unit is not None else None
    scale = version.scale_for(key) * version.unit_scale_for(key, kind) if version is not None else 1.0
    # The same kernel code runs closer to peak on a core that hides its loads (M7 dual issue): a chip property.
    core = unit.kernel_efficiency_scale if unit is not None else 1.0
    return min(1.0, eff * scale * core)


def int8_isa_scale(runtime: RuntimeProfile | None, unit: ComputeUnit, op: str = "CONV2D") -> float:
    """Speed factor of a CPU runtime's int8 GEMM kernels on this unit's cores (their dot-product instructions and
    issue style, ``RuntimeProfile.int8_isa_scale``); 1.0 for other units, runtimes, unnamed cores and depthwise
    convolutions (XNNPACK runs those with its dwconv kernels, which multiply per channel: no dot product)."""
    if runtime is None or runtime.int8_isa_scale is None or unit.kind is not UnitKind.CPU:
        return 1.0
    if op == OpKind.DEPTHWISE_CONV2D.value:
        return 1.0
    return runtime.int8_isa_scale.factor(core_int8(f"{unit.description} {unit.name}"))


def parallel_cores(unit: ComputeUnit, runtime: RuntimeProfile | None, op: str | None = None) -> float:
    """Cores' worth of speed an op split over the unit's cores gets: all of them, except that a CPU runtime's
    extra threads add only ``thread_scaling`` of a core each, and an op kind the runtime does not split
    (``threaded_ops``) runs on one of them."""
    if runtime is None or unit.kind is not UnitKind.CPU:
        return float(unit.count)
    if op is not None and runtime.threaded_ops is not None and op not in runtime.threaded_ops:
        return 1.0
    return 1.0 + (unit.count - 1) * runtime.thread_scaling


def _granule_factor(runtime: RuntimeProfile | None, unit: ComputeUnit, graph: Graph, node: Node) -> float:
    """Padded / nominal MACs on an accelerator whose runtime lays activations out in channel blocks."""
    if runtime is None or runtime.channel_granule is None or unit.kind is UnitKind.CPU:
        return 1.0
    return padded_mac_factor(graph, node, runtime.channel_granule)


_INTEGER = frozenset({"int4", "int8", "int16"})


def compute_precision(runtime: RuntimeProfile | None, node: Node, precision: str) -> str:
    """The type an op's kernel computes in: the tensors' own, or the wider one the runtime's ``widened_ops``
    names for this op kind when the tensors are integer (float tensors are never narrowed)."""
    if runtime is None or precision not in _INTEGER:
        return precision
    wide = runtime.widened_ops.get(node.op.value)
    return wide.value if wide is not None else precision


def compute_cycles(unit: ComputeUnit, graph: Graph, node: Node, work: NodeWork, runtime: RuntimeProfile | None, version: RuntimeVersion | None) -> float:
    if node.op.op_class is OpClass.VIEW:
        return 0.0
    # Rates below are per core: dividing by count / cores gives the same cycles split over the unit's cores.
    eff = _efficiency(runtime, version, node, unit, work) * parallel_cores(unit, runtime, node.op.value) / unit.count
    precision = compute_precision(runtime, node, work.precision)
    if node.op.op_class is OpClass.MAC:
        fixed = fixed_rate_cycles(unit, kernel_key(node), work, version, precision)
        if fixed is not None:
            return fixed
        if unit.kind is UnitKind.SYSTOLIC and unit.systolic is not None:
            return _systolic_cycles(unit, graph, node) / eff
        spec = unit.mac_block
        if spec is not None and work.precision in ("int8", "int4"):
            return _mac_block_cycles(spec, graph, node, work) / (unit.count * eff)
        rate = _rate(unit.macs_per_cycle, precision) or _rate(unit.macs_per_cycle, work.precision)
        assert rate is not None
        # The int8 kernels are the ones that change with the core's dot-product instructions (SDOT, SMMLA).
        isa = int8_isa_scale(runtime, unit, node.op.value) if rate[0] in (Precision.INT8, Precision.INT4) else 1.0
        # Padding a kernel computes: an NPU's channel blocks, a GPU's per-group GEMM tiles (mapping.gpu).
        padded = _granule_factor(runtime, unit, graph, node) * grouped_conv_factor(runtime, unit, graph, node)
        return work.macs * padded / (rate[1] * unit.count * eff * isa)
    if work.elementwise_ops == 0:
        if unit.kind in DMA_UNIT_KINDS:
            # An accelerator copies with its DMA engine (Vela and the Edge TPU compiler even have producers write
            # straight into the concatenated slices): no datapath time, the op costs only its memory traffic.
            return 0.0
        # Pure data movement (concat, pad, transpose): a copy, bounded by the memory system, one element per op.
        return work.output_elements / (unit.count * eff * 4.0)
    rate = _rate(unit.elementwise_ops_per_cycle, precision) or _rate(unit.elementwise_ops_per_cycle, work.precision)
    assert rate is not None
    return work.elementwise_ops / (rate[1] * unit.count * eff)
