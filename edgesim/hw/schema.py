"""Typed, validated hardware and runtime profiles (pydantic v2, frozen, no unknown keys).

Physical numbers have no defaults: a profile that forgets one is rejected instead of silently simulated with a
guess. Cross-field rules (names that refer to other entries, sorted DVFS points, a thermal network that can shed
heat) are checked here so the cost model and thermal simulator can trust the object.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edgesim.hw.cpu_isa import CpuIsa
from edgesim.hw.schema_arrays import MacBlockSpec, SystolicSpec
from edgesim.hw.schema_base import (
    ChipKind,
    DeviceClass,
    MemoryKind,
    Precision,
    RunCurrentBasis,
    SparsitySupport,
    UnitFamily,
    UnitKind,
)
from edgesim.hw.schema_base import Frozen as _Frozen
from edgesim.hw.schema_gpu import GpuArch, GpuKernels
from edgesim.hw.schema_runtime import (
    CpuIsaSupport,
    FloatConversion,
    FrameRoundTrip,
    HostIO,
    Int8IsaScale,
    UnmodelledCost,
    WeightResweep,
    check_efficiency_table,
    check_unmodelled,
)
from edgesim.hw.schema_thermal import DvfsSpec, ThermalSpec
from edgesim.hw.schema_version import KERNEL_KEYS as _KERNEL_KEYS
from edgesim.hw.schema_version import POINTWISE_CONV, REGION_YOLO, RuntimeVersion
from edgesim.ir.ops import OpClass, OpKind

_OP_NAMES = frozenset(k.value for k in OpKind)
# Kernel keys of MAC ops (the op table's MAC class, and the pointwise variant of a conv)
_MAC_KERNEL_KEYS = frozenset(k.value for k in OpKind if k.op_class is OpClass.MAC) | {POINTWISE_CONV}


class ComputeUnit(_Frozen):
    name: str = Field(min_length=1)
    kind: UnitKind
    description: str
    count: int = Field(ge=1)
    clock_mhz: float | None = Field(default=None, gt=0)
    macs_per_cycle: dict[Precision, float] = Field(min_length=1)
    elementwise_ops_per_cycle: dict[Precision, float]
    supported_ops: list[str] | Literal["all"]
    memories: list[str] = Field(min_length=1)
    systolic: SystolicSpec | None = None
    sparsity: list[SparsitySupport] = Field(default_factory=list)
    # Hardware limits an accelerator compiler enforces (e.g. Vela: kernel <= 8x8 for some ops, stride <= 3);
    # None = no limit. The mapper falls back to the host unit when an op exceeds them.
    max_kernel_hw: tuple[int, int] | None = None
    max_stride: int | None = Field(default=None, ge=1)
    # Block-stepping model of a mac_array NPU (Ethos-U); None = MACs / peak rate.
    mac_block: MacBlockSpec | None = None
    # Application cores burn roughly the same power per busy cycle whatever the precision or kernel efficiency
    # (fetch, decode, rename, caches dominate the datapath). When set, compute energy = busy cycles x count x this
    # (at the nominal voltage) instead of MACs x energy per MAC. None = charge per operation (MCUs, NPUs).
    active_energy_pj_per_cycle: float | None = Field(default=None, gt=0)
    # Fraction of peak a core reaches with the same kernel code, relative to the single-issue Cortex-M4 that
    # runtime kernel efficiencies are referred to: a dual-issue Cortex-M7 pairs each SMLAD with its operand load,
    # a Cortex-M33 has a shorter pipeline. Multiplies the runtime's kernel efficiency on this unit; 1.0 = M4-like.
    kernel_efficiency_scale: float = Field(default=1.0, gt=0, le=4.0)
    # Cache keeping a layer's weights between output pixels (RuntimeProfile.weight_resweep; ESP32-P4's L2);
    # None = not modelled, the runtime's per-kernel rates apply as listed.
    weight_cache_bytes: int | None = Field(default=None, gt=0)
    # MAC ops (by runtime kernel key, e.g. DEPTHWISE_CONV2D) whose rate on this unit is fixed by its architecture
    # rather than a runtime's share of macs_per_cycle: int8 MACs per unit cycle for the whole unit, other
    # precisions narrowed as macs_per_cycle narrows them (edgesim.mapping.fixed_rate). Empty = every MAC op runs
    # at a share of the array's peak.
    fixed_rate_macs_per_cycle: dict[str, float] = Field(default_factory=dict)
    # What the unit is to a runtime (RuntimeProfile.targets); None = cpu for kind cpu, npu otherwise.
    device_class: DeviceClass | None = None
    # Weight bytes one configuration ("context") of a dataflow accelerator holds on chip (Hailo): a network with
    # more weights is compiled into several contexts that run one after another, each loaded per inference
    # (or once per batch). None = the whole network is resident at once (or the unit streams its weights).
    context_weight_bytes: int | None = Field(default=None, gt=0)
    # Layers one context holds per core (cluster): a dataflow compiler gives every layer its own control block
    # (Hailo's Layer Controller Units), so a network with more layers than count x this is split into contexts
    # too (edgesim.mapping.contexts.hardware_layers). None = no such limit.
    context_layers_per_core: int | None = Field(default=None, gt=0)
    # Memory the chip itself loads each context's weights from at a switch (one of ``memories``): Hailo-10H's
    # firmware reads them from the module's own DRAM (hailort v5.2.0 loads 10H contexts over DmaType::DRAM), so a
    # switch costs those bytes over that memory's bandwidth (edgesim.mapping.contexts.context_load) instead of
    # the runtime's host-driven switch cycles. None = the host drives the switch (Hailo-8/8L: HailoRT over PCIe,
    # RuntimeProfile.context_switch_cycles).
    context_memory: str | None = Field(default=None, min_length=1)
    # The CUDA architecture of a GPU unit: picks a GPU runtime's kernels for it (RuntimeProfile.gpu_kernels).
    gpu_arch: GpuArch | None = None
    # Whose accelerator IP the unit is (an Ethos-U, an NVIDIA GPU): a vendor runtime drives only its own
    # (RuntimeProfile.unit_families). None = not declared (CPU units; a runtime that names families refuses it).
    unit_family: UnitFamily | None = None
    # The instruction set of a cpu-kind unit: a CPU runtime runs only on the ISAs its kernels are built for
    # (RuntimeProfile.cpu_isas). None = read from the core the description names (edgesim.hw.family.unit_isa).
    isa: CpuIsa | None = None

    @property
    def device(self) -> DeviceClass:
        if self.device_class is not None:
            return self.device_class
        return DeviceClass.CPU if self.kind is UnitKind.CPU else DeviceClass.NPU

    @field_validator("macs_per_cycle", "elementwise_ops_per_cycle")
    @classmethod
    def _rates_non_negative(cls, v: dict[Precision, float]) -> dict[Precision, float]:
        for p, rate in v.items():
            if rate < 0:
                raise ValueError(f"rate for {p.value} must be >= 0, got {rate}")
        return v

    @field_validator("fixed_rate_macs_per_cycle")
    @classmethod
    def _fixed_rates(cls, v: dict[str, float]) -> dict[str, float]:
        for key, rate in v.items():
            if key not in _MAC_KERNEL_KEYS:
                raise ValueError(f"fixed_rate_macs_per_cycle: '{key}' is not a MAC kernel key "
                                 f"({sorted(_MAC_KERNEL_KEYS)})")
            if rate <= 0:
                raise ValueError(f"fixed_rate_macs_per_cycle: rate for {key} must be > 0, got {rate}")
        return v

    @field_validator("supported_ops")
    @classmethod
    def _known_ops(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, list):
            unknown = [op for op in v if op not in _OP_NAMES]
            if unknown:
                raise ValueError(f"unknown op kinds {unknown}; known: {sorted(_OP_NAMES)}")
        return v

    @model_validator(mode="after")
    def _systolic_iff_kind(self) -> ComputeUnit:
        if self.kind is UnitKind.SYSTOLIC and self.systolic is None:
            raise ValueError(f"unit '{self.name}' has kind systolic but no 'systolic' spec (rows, cols, dataflow)")
        if self.kind is not UnitKind.SYSTOLIC and self.systolic is not None:
            raise ValueError(f"unit '{self.name}' has a 'systolic' spec but kind {self.kind.value}")
        if all(r <= 0 for r in self.macs_per_cycle.values()):
            raise ValueError(f"unit '{self.name}' needs a positive macs_per_cycle for at least one precision")
        if self.isa is not None and self.kind is not UnitKind.CPU:
            raise ValueError(f"unit '{self.name}' has an isa but kind {self.kind.value} (isa is for cpu units)")
        return self

    def supports(self, op_name: str) -> bool:
        return self.supported_ops == "all" or op_name in self.supported_ops

    def effective_clock_mhz(self, profile_clock_mhz: float) -> float:
        return self.clock_mhz if self.clock_mhz is not None else profile_clock_mhz


class MemoryLevel(_Frozen):
    name: str = Field(min_length=1)
    kind: MemoryKind
    size_bytes: int = Field(gt=0)
    read_bw_bytes_per_cycle: float = Field(gt=0)
    write_bw_bytes_per_cycle: float = Field(ge=0)
    # Clock the bandwidth is counted in; None = the profile clock (on-chip SRAM runs with the core).
    clock_mhz: float | None = Field(default=None, gt=0)
    latency_cycles: float = Field(ge=0)
    read_energy_pj_per_byte: float = Field(ge=0)
    write_energy_pj_per_byte: float = Field(ge=0)
    # Bytes one access moves (vela.ini <memory>_burst_length): a DMA reading shorter contiguous runs still pays
    # whole bursts. None = no burst granularity modelled.
    burst_bytes: int | None = Field(default=None, gt=0)
    # Fraction of read_bw_bytes_per_cycle CPU cores sustain when streaming (STREAM / tinymembench); None = not
    # characterised (consumers pick their own default). 1.0 when read_bw is itself a measured streaming figure.
    cpu_stream_fraction: float | None = Field(default=None, gt=0, le=1)
    # The DRAM interface as the datasheet states it: bus width and transfer rate give the peak (width / 8 x MT/s).
    # Set where read_bw_bytes_per_cycle is a sustained estimate rather than the peak; consumers that model their
    # own achievable fraction of the peak (the LLM decode model's GPU/NPU DMA streams) start from it.
    bus_width_bits: int | None = Field(default=None, gt=0)
    transfer_rate_mts: float | None = Field(default=None, gt=0)

    def _clock_hz(self, profile_clock_mhz: float) -> float:
        return (self.clock_mhz if self.clock_mhz is not None else profile_clock_mhz) * 1e6

    def read_bw_bytes_per_s(self, profile_clock_mhz: float) -> float:
        return self.read_bw_bytes_per_cycle * self._clock_hz(profile_clock_mhz)

    def peak_read_bw_bytes_per_s(self, profile_clock_mhz: float) -> float:
        """The interface peak (bus width x transfer rate) where the profile states it, else the read bandwidth."""
        if self.bus_width_bits is not None and self.transfer_rate_mts is not None:
            return self.bus_width_bits / 8 * self.transfer_rate_mts * 1e6
        return self.read_bw_bytes_per_s(profile_clock_mhz)

    def write_bw_bytes_per_s(self, profile_clock_mhz: float) -> float:
        return self.write_bw_bytes_per_cycle * self._clock_hz(profile_clock_mhz)

    def transfer_s(self, read_bytes: int, write_bytes: int, profile_clock_mhz: float) -> tuple[float, float]:
        """(read, write) seconds the port is busy moving these bytes at its bandwidth (no access latency): the one
        memory-transfer formula of both cost paths. A port without write bandwidth takes writes for free."""
        # the two *_bw_bytes_per_s with the clock looked up once: called per op and memory, per interval rerun
        clock_hz = self._clock_hz(profile_clock_mhz)
        read_s = read_bytes / (self.read_bw_bytes_per_cycle * clock_hz) if read_bytes else 0.0
        wr_bw = self.write_bw_bytes_per_cycle * clock_hz
        write_s = write_bytes / wr_bw if write_bytes and wr_bw > 0 else 0.0
        return read_s, write_s


class Placement(_Frozen):
    weights: str
    activations: str
    inputs: str | None = None
    outputs: str | None = None


class EnergySpec(_Frozen):
    """Dynamic energy at the DVFS nominal voltage; the cost model scales it by (V/V_nom)^2."""

    mac_energy_pj: dict[Precision, float] = Field(min_length=1)
    elementwise_energy_pj_per_op: dict[Precision, float] = Field(min_length=1)
    dma_energy_pj_per_byte: float = Field(ge=0)

    @field_validator("mac_energy_pj", "elementwise_energy_pj_per_op")
    @classmethod
    def _non_negative(cls, v: dict[Precision, float]) -> dict[Precision, float]:
        for p, e in v.items():
            if e < 0:
                raise ValueError(f"energy for {p.value} must be >= 0, got {e}")
        return v


class PowerSpec(_Frozen):
    static_power_mw: float = Field(ge=0)
    idle_power_mw: float = Field(ge=0)
    sleep_power_mw: float = Field(ge=0)
    # Optional temperature-dependent leakage used by sustained runs: static power x exp(coeff x (T - T_ref)), T the
    # power node's temperature. Absent = static power independent of temperature. Subthreshold leakage of modern
    # nodes roughly doubles every 20-30 K, i.e. 0.02-0.035 per C; above 0.1 the RC loop can run away.
    leakage_temp_coeff_per_c: float | None = Field(default=None, ge=0, le=0.1)
    leakage_ref_temp_c: float = 25.0  # temperature at which static_power_mw was characterised
    # Measured board power over the power the datasheet figures give (MLPerf Tiny's EnergyRunner measures the
    # whole DUT supply while ML kernels keep the DSP datapath, every SRAM bank and the flash busy, which the
    # datasheet's CoreMark run current does not). Multiplies the compute energy of every unit and the static
    # power; memory traffic energy is per byte and not scaled. Fitted per device where MLPerf energy rows exist
    # (edgesim.validate.board_power), else a family/global value marked derived with its range. 1.0 = none.
    board_power_factor: float = Field(default=1.0, gt=0, le=4.0)
    # What the run current behind the compute energy is (MCU board-power rule): a datasheet table value at the
    # benchmark clock, a headline, or a maximum. None: not charged by that rule (NPUs, SoCs, GAP9's own basis).
    run_current_basis: RunCurrentBasis | None = None

    @property
    def static_power_w(self) -> float:
        """The one static-power figure every cost path charges (at the characterisation temperature)."""
        return self.static_power_mw * 1e-3 * self.board_power_factor

    def leakage_factor_at(self, temp_c: float) -> float:
        """Static power at ``temp_c`` over static power at the characterisation temperature (1 without a
        coefficient)."""
        if self.leakage_temp_coeff_per_c is None:
            return 1.0
        return math.exp(self.leakage_temp_coeff_per_c * (temp_c - self.leakage_ref_temp_c))

    def static_power_w_at(self, temp_c: float) -> float:
        return self.static_power_w * self.leakage_factor_at(temp_c)


class HardwareProfile(_Frozen):
    id: str = Field(min_length=1)
    description: str
    kind: ChipKind
    clock_mhz: float = Field(gt=0)
    units: list[ComputeUnit] = Field(min_length=1)
    memories: list[MemoryLevel] = Field(min_length=1)
    placement: Placement
    host_unit: str
    energy: EnergySpec
    power: PowerSpec
    dvfs: DvfsSpec
    thermal: ThermalSpec
    sources: list[str] = Field(min_length=1)
    default_runtime: str | None = None  # 'id[@version]' used when the caller names none
    # big.LITTLE SoCs: the LITTLE CPU cluster. The mapper never sees it (it would take it for an accelerator and
    # put every op there); edgesim.thermal.big_little swaps it in as the host unit to cost LITTLE-core runs.
    little_cluster: ComputeUnit | None = None

    @field_validator("description")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v.strip():
            raise ValueError("description must be one line")
        return v.strip()

    @model_validator(mode="after")
    def _references(self) -> HardwareProfile:
        unit_names = [u.name for u in self.units]
        if len(set(unit_names)) != len(unit_names):
            raise ValueError(f"unit names must be unique, got {unit_names}")
        mem_names = [m.name for m in self.memories]
        if len(set(mem_names)) != len(mem_names):
            raise ValueError(f"memory names must be unique, got {mem_names}")
        if self.host_unit not in unit_names:
            raise ValueError(f"host_unit '{self.host_unit}' is not a unit; units: {unit_names}")
        for i, u in enumerate(self.units):
            bad = [m for m in u.memories if m not in mem_names]
            if bad:
                raise ValueError(f"units.{i}.memories names unknown memories {bad}; memories: {mem_names}")
            if u.context_memory is not None and u.context_memory not in u.memories:
                raise ValueError(f"units.{i}.context_memory '{u.context_memory}' is not one of the unit's memories "
                                 f"{u.memories}")
        for fld in ("weights", "activations", "inputs", "outputs"):
            m = getattr(self.placement, fld)
            if m is not None and m not in mem_names:
                raise ValueError(f"placement.{fld} '{m}' is not a memory; memories: {mem_names}")
        act = self.memory(self.placement.activations)
        if act.write_bw_bytes_per_cycle <= 0:
            raise ValueError(f"placement.activations '{act.name}' is read-only (write_bw_bytes_per_cycle = 0)")
        lc = self.little_cluster
        if lc is not None:
            if lc.kind is not UnitKind.CPU:
                raise ValueError(f"little_cluster must have kind cpu, got {lc.kind.value}")
            if lc.clock_mhz is None:
                raise ValueError("little_cluster needs its own clock_mhz (profile DVFS drives the big cluster)")
            if lc.name in unit_names:
                raise ValueError(f"little_cluster name '{lc.name}' clashes with a unit; units: {unit_names}")
            bad = [m for m in lc.memories if m not in mem_names]
            if bad:
                raise ValueError(f"little_cluster.memories names unknown memories {bad}; memories: {mem_names}")
        freqs = [p.freq_mhz for p in self.dvfs.operating_points]
        if self.dvfs.default_freq_mhz != self.clock_mhz and self.dvfs.default_freq_mhz not in freqs:
            raise ValueError(
                f"dvfs.default_freq_mhz {self.dvfs.default_freq_mhz} is neither clock_mhz {self.clock_mhz} "
                f"nor an operating point {freqs}"
            )
        return self

    def unit(self, name: str) -> ComputeUnit:
        for u in self.units:
            if u.name == name:
                return u
        raise KeyError(f"profile '{self.id}' has no unit '{name}'; units: {[u.name for u in self.units]}")

    def memory(self, name: str) -> MemoryLevel:
        for m in self.memories:
            if m.name == name:
                return m
        raise KeyError(f"profile '{self.id}' has no memory '{name}'; memories: {[m.name for m in self.memories]}")

    @property
    def host(self) -> ComputeUnit:
        return self.unit(self.host_unit)

    def with_clock(self, mhz: float) -> HardwareProfile:
        """A copy running at ``mhz``; units/memories with their own clock keep it."""
        if not 0 < mhz < math.inf:  # also refuses nan; a ProfileError so the CLI reports it as bad input
            from edgesim.errors import ProfileError

            raise ProfileError(f"clock must be positive and finite, got {mhz}", field="clock_mhz")
        return self.model_copy(update={"clock_mhz": float(mhz)})


class RuntimeProfile(_Frozen):
    id: str = Field(min_length=1)
    description: str
    versions: list[RuntimeVersion] = Field(min_length=1)
    default_version: str
    kernel_efficiency: dict[str, float]
    per_op_overhead_cycles: float = Field(ge=0)
    per_inference_overhead_cycles: float = Field(ge=0)
    # Whose clock per_op_overhead_cycles counts: "host" = the host CPU dispatches every op (TFLite, ONNX Runtime
    # kernels); "unit" = the accelerator's own control processor sequences the graph, so the per-op cost is in
    # the cycles of the unit running the op and scales with its clock (QNN's HTP executes a whole graph from one
    # FastRPC call; the per-inference overhead stays on the host).
    overhead_clock: Literal["host", "unit"] = "host"
    # Multiplier of per_op_overhead_cycles by op kind (CONV2D, CONV2D_1X1) or, failing that, by op class ("mac",
    # "elementwise", "data", ...; 1.0 where neither is listed), where the runtime's fixed cost per op differs by
    # kind (an HTP conv's setup hides behind its HMX pipeline; a separate HVX pass does not).
    op_overhead_scale: dict[str, float] = Field(default_factory=dict)
    fused_activations: bool
    # The converter quantizes every op's constant parameters, not only conv/FC weights (QNN's converter
    # quantizes all static tensors: an unfolded BATCH_NORM, LAYER_NORM's gamma/beta, a MUL by a constant), so
    # such an op runs at its activations' integer precision on the accelerator instead of as a float op.
    quantizes_params: bool = False
    # The engine adds a residual (a same-shaped earlier tensor) in the conv/FC output stage, so the conv output
    # is never written and read back by a separate ADD (TensorRT's conv + elementwise-sum fusion).
    fused_residual_add: bool = False
    # SiLU / Swish written as SIGMOID + MUL(x, sigmoid(x)) runs as the producer conv/FC's epilogue (OpenVINO's
    # eltwise Swish post-op): applied on the schedule like fused_residual_add (edgesim.mapping.fusion).
    fused_silu: bool = False
    # LEAKY_RELU after a conv/FC/ADD runs in the producer's output stage (Intel NPU's PPE post-op: NPU37XX and
    # later fuse LeakyReLU into the NCE op), applied on the schedule like fused_silu. Graph-level fusion
    # (passes.fusion) folds only clamps/tanh/sigmoid/hard-swish, which every runtime fuses.
    fused_leaky_relu: bool = False
    # Channels per activation block of the accelerator's layout: MAC ops cost their channel counts rounded up to
    # it (QNN HTP: blocks of 32, edgesim.mapping.granule). None = channels are not padded.
    channel_granule: int | None = Field(default=None, ge=1)
    # The accelerator's DMA loads the next ops' DRAM weights during the current op, within half its on-chip memory
    # (QNN HTP weight DMA into VTCM), so only a weight load no earlier op could hide stalls (mapping.prefetch).
    weight_prefetch: bool = False
    # Op kinds whose kernels compute in a wider type than an integer model's tensors, with that type's unit rate
    # (traffic keeps the tensor type): OpenVINO's CPU plugin runs ops LPT leaves unquantized (Sigmoid, Multiply)
    # in fp32, and its int8 depthwise kernels widen u8 to int32 lanes (no VNNI reduction within one channel).
    widened_ops: dict[str, Precision] = Field(default_factory=dict)
    weights_in: MemoryKind | None = None
    activations_in: MemoryKind | None = None
    applies_to: list[UnitKind] = Field(min_length=1)
    # Kernels the chip vendor wrote for an accelerator the runtime drives (Silicon Labs' MVP programs inside
    # TFLM): efficiency per op kind as a fraction of that unit's peak, by unit kind. kernel_efficiency (the
    # CPU kernels') is used for unit kinds not listed here.
    unit_kernel_efficiency: dict[UnitKind, dict[str, float]] = Field(default_factory=dict)
    # A GPU runtime's kernels per GPU architecture (edgesim.hw.schema_gpu): used on a unit whose gpu_arch is
    # listed, before unit_kernel_efficiency / kernel_efficiency.
    gpu_kernels: dict[GpuArch, GpuKernels] = Field(default_factory=dict)
    # Lossless weight compression the engine applies when it packs weights for its units (Vela's weight encoder):
    # stored bytes / raw bytes for weights whose values are unknown; known int8 weights are entropy-coded instead
    # (edgesim.mapping.mapper._entropy_coded_ratio). None = weights are stored raw.
    weight_compression_ratio: float | None = Field(default=None, gt=0, le=1)
    # Independent ops run on different cores of a multi-core unit at once (ONNX Runtime's ORT_PARALLEL execution
    # mode, RKNN/Hailo assigning layers to cores). False = one op at a time split over all cores, as TFLite's
    # interpreter does (its threads parallelise inside an op).
    inter_op_parallel: bool = False
    # Speedup each extra CPU thread adds to one op, as a fraction of a core: threads share the L2 and DRAM and meet
    # at a barrier after every op (XNNPACK's pthreadpool). n threads run an op 1 + (n - 1) x this faster than one;
    # 1.0 = linear. Accelerator units are not affected.
    thread_scaling: float = Field(default=1.0, gt=0, le=1)
    # Op kinds the runtime splits over its CPU threads, the rest on one (ESP-DL); None = every op (XNNPACK).
    threaded_ops: list[str] | None = None
    # Kernels re-reading all weights per output pixel (ESP-DL): the cached rate while a layer's weights fit the
    # unit's weight_cache_bytes, the streamed one beyond (edgesim.mapping.compute.resweep_key).
    weight_resweep: WeightResweep | None = None
    # CPU threads a model runs on when the run names none (ESP-DL: one); None = all host cores.
    default_threads: int | None = Field(default=None, ge=1)
    # The most CPU threads the runtime can run a model on (bare-metal TFLM, X-CUBE-AI: the calling core alone);
    # --threads above it is refused (edgesim.hw.targeting), not costed on cores it never uses. None = any.
    max_threads: int | None = Field(default=None, ge=1)
    # Layer pipelining: a consumer on another unit/core starts on a row band once its producer has written the
    # rows it reads (halo = kernel rows - stride). Hailo's dataflow architecture streams layer to layer
    # (hailo.ai, "Hailo-8 dataflow architecture" whitepaper); Vela's cascading runs convs on row stripes
    # (developer.arm.com, Ethos-U Vela "cascading"). False = a consumer waits for its whole producer.
    layer_pipelining: bool = False
    # Device classes of the units the runtime places ops on (OpenVINO's NPU plugin: [npu]); empty = any unit of
    # an applies_to kind. A chip with no unit of a listed class cannot run the runtime (edgesim.hw.targeting).
    targets: list[DeviceClass] = Field(default_factory=list)
    # Hardware profile ids (chip families) the runtime ships for, e.g. RKNN's Rockchip parts; empty = any.
    # Informational here; edgesim.hw.targeting.runtime_fit_problem reports a mismatch.
    chips: list[str] = Field(default_factory=list)
    # Kinds of chip the runtime's builds run on (ChipKind); empty = any. XNNPACK, OpenVINO's CPU plugin and OpenCV
    # need an application-class host (an OS, NEON/SSE/AVX), not a Cortex-M; MCU code generators (microTVM, ONNC)
    # emit bare-metal C; none of them runs on an accelerator card's stand-in host (edgesim.hw.targeting).
    chip_kinds: list[ChipKind] = Field(default_factory=list)
    # Accelerator families (ComputeUnit.unit_family) the runtime's compiler or kernels drive (Vela: arm-ethos-u);
    # empty = any. It places no op on a unit of another family, and a chip needs one of them unless
    # unit_family_required is False (TFLM: the MVP kernels of Silicon Labs' build are an extra to the CPU's).
    unit_families: list[UnitFamily] = Field(default_factory=list)
    unit_family_required: bool = True
    # CPU instruction sets the runtime's kernels are built for, each with its source; empty = the runtime puts no
    # op on a CPU, or any CPU. A chip whose CPU unit has another ISA is refused (edgesim.hw.targeting).
    cpu_isas: list[CpuIsaSupport] = Field(default_factory=list)
    # Op kinds the runtime's accelerator backend can place (its op support list); None = whatever the unit
    # supports. Other ops run on the host CPU when host_fallback, as RKNN, HailoRT and the TFLite delegates do.
    supported_ops: list[str] | None = None
    # False: the runtime has no CPU fallback (ai8x synthesises the whole network onto the CNN engine; OpenVINO's
    # MYRIAD plugin without HETERO): an op it cannot place is refused instead of run on the host.
    host_fallback: bool = True
    # Input/output transfer over the profile's host link each inference (edgesim.mapping.host_link); None = the
    # runtime's per-inference overhead covers it (a device whose inputs are already in its memory).
    host_io: HostIO | None = None
    frame_round_trips: list[FrameRoundTrip] = Field(default_factory=list)
    # Precisions the runtime deploys on its accelerator (int8, fp16, int16 = w8a16 activations); empty = any the
    # unit has. An accelerator-only runtime asked for another precision is refused (edgesim.hw.targeting).
    precisions: list[Precision] = Field(default_factory=list)
    # The precision the runtime's compiler converts a float model's ops to when no quantization is asked (RKNN's
    # fp16 build): the driver applies it as --quant would (edgesim.pipeline.stages). None = float ops stay float.
    float_models_as: FloatConversion | None = None
    # Cores of a multi-core accelerator one model runs on by default (RKNN's core mask AUTO picks one of the
    # RK3588's three); None = all of them. Threads of a CPU runtime are set per run (--threads).
    cores_used: int | None = Field(default=None, ge=1)
    # Queued inference requests (a throughput stream) each run on at most this many cores of the runtime's MAC
    # unit, so unit count // this requests execute at once and the next waits for one to end (OpenVINO's NPU
    # compiler gives a THROUGHPUT request all of NPU3720's 2 tiles, 2 of NPU4000's 6). None = queued frames
    # overlap wherever the units allow (one frame's vector ops beside the next frame's convs).
    request_cores: int | None = Field(default=None, ge=1)
    # Bytes the engine keeps in the activation memory besides the tensors themselves (interpreter state, per-tensor
    # metadata, scratch buffers): counted against the activation memory by the fit verdict. None = not declared
    # (counted as 0); give its source in ``sources`` when set.
    arena_overhead_bytes: int | None = Field(default=None, ge=0)
    # Host cycles the runtime spends switching a multi-context network to its next context (reloading the
    # context's weights and configuration over the host link: HailoRT's context switch); used for units with a
    # context_weight_bytes.
    context_switch_cycles: float = Field(default=0.0, ge=0)
    # Host cycles per hardware layer (mapping.contexts.hardware_layers) of a multi-context network, once per switch of the
    # whole network: each layer's configuration is loaded with its context.
    context_switch_layer_cycles: float = Field(default=0.0, ge=0)
    # Hardware layers the runtime's compiler builds for one op of a kind (default 1), counted against a unit's
    # context_layers_per_core: an op the compiler decomposes into several layers (Hailo's LayerNorm) takes as
    # many layers' control resources.
    layers_per_op: dict[str, int] = Field(default_factory=dict)
    # The runtime's int8 GEMM kernels differ by the CPU core's dot-product instructions (XNNPACK: SMLAL, SDOT or
    # SMMLA microkernels): applied to int8 MAC ops on CPU units (edgesim.mapping.compute.int8_isa_scale).
    int8_isa_scale: Int8IsaScale | None = None
    # Costs a public source documents on this runtime (or a public measurement shows) that the model leaves out,
    # no number being published: runs they apply to say so (edgesim.pipeline.gaps). docs/unmodelled.md lists them.
    unmodelled: list[UnmodelledCost] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    @field_validator("layers_per_op")
    @classmethod
    def _layer_ops(cls, v: dict[str, int]) -> dict[str, int]:
        bad = [k for k, n in v.items() if k not in _OP_NAMES or n < 1]
        if bad:
            raise ValueError(f"layers_per_op needs known op kinds and counts >= 1, got {bad}")
        return v

    @field_validator("supported_ops", "widened_ops", "threaded_ops")
    @classmethod
    def _known_ops(cls, v: list[str] | dict[str, Precision] | None) -> list[str] | dict[str, Precision] | None:
        # op-kind names (a list, or a table's keys) must be IR op kinds: a typo would silently match nothing
        unknown = [op for op in (v or ()) if op not in _OP_NAMES]
        if unknown:
            raise ValueError(f"unknown op kinds {unknown}; known: {sorted(_OP_NAMES)}")
        return v

    @field_validator("kernel_efficiency")
    @classmethod
    def _efficiencies(cls, v: dict[str, float]) -> dict[str, float]:
        return check_efficiency_table(v)

    @field_validator("op_overhead_scale")
    @classmethod
    def _overhead_scales(cls, v: dict[str, float]) -> dict[str, float]:
        classes = {c.value for c in OpClass}
        for k, scale in v.items():
            if k not in _KERNEL_KEYS and k not in classes:
                raise ValueError(f"'{k}' is not an op kind or class; known: {sorted(_KERNEL_KEYS | classes)}")
            if scale < 0:
                raise ValueError(f"'{k}' overhead scale must be >= 0, got {scale}")
        return v

    def op_overhead_cycles(self, key: str, op_class: str | None = None) -> float:
        """Per-op overhead of an op kind or kernel variant of class ``op_class``: per_op_overhead_cycles x its
        op_overhead_scale (CONV2D_1X1 falls back to CONV2D's scale, a kind not listed to its class's)."""
        scales = self.op_overhead_scale
        for k in (key, OpKind.CONV2D.value if key == POINTWISE_CONV else None, op_class):
            if k is not None and k in scales:
                return self.per_op_overhead_cycles * scales[k]
        return self.per_op_overhead_cycles

    @field_validator("unit_kernel_efficiency")
    @classmethod
    def _unit_efficiencies(cls, v: dict[UnitKind, dict[str, float]]) -> dict[UnitKind, dict[str, float]]:
        for table in v.values():
            check_efficiency_table(table)
        return v

    @field_validator("gpu_kernels")
    @classmethod
    def _gpu_efficiencies(cls, v: dict[GpuArch, GpuKernels]) -> dict[GpuArch, GpuKernels]:
        for kernels in v.values():
            check_efficiency_table(kernels.kernel_efficiency)
        return v

    @model_validator(mode="after")
    def _default_version_known(self) -> RuntimeProfile:
        names = [v.version for v in self.versions]
        if len(set(names)) != len(names):
            raise ValueError(f"version names must be unique, got {names}")
        if self.default_version not in names:
            raise ValueError(f"default_version '{self.default_version}' is not one of {names}")
        check_unmodelled(self.unmodelled, names)
        sweep = self.weight_resweep
        missing = [k for k in (sweep.cached, sweep.streamed) if k not in self.kernel_efficiency] if sweep else []
        if missing:
            raise ValueError(f"weight_resweep names kernels {missing} that kernel_efficiency does not list")
        conv = self.float_models_as
        if conv is not None and self.precisions and conv.precision not in self.precisions:
            raise ValueError(f"float_models_as {conv.precision} is not one of the runtime's precisions {self.precisions}")
        return self

    def efficiency_for(self, key: str, unit_kind: UnitKind | str | None = None,
                       gpu_arch: GpuArch | None = None) -> float:
        """Kernel efficiency of an op kind or kernel variant (CONV2D_1X1 and CONV_TRANSPOSE2D fall back to CONV2D,
        then default: compilers lower a transposed conv to convs) on a unit of ``unit_kind`` (its vendor kernels if
        listed in unit_kernel_efficiency) or of GPU architecture ``gpu_arch`` (its kernels in gpu_kernels)."""
        table = self.kernel_efficiency
        if unit_kind is not None and UnitKind(unit_kind) in self.unit_kernel_efficiency:
            table = self.unit_kernel_efficiency[UnitKind(unit_kind)]
        if gpu_arch is not None and gpu_arch in self.gpu_kernels:
            table = self.gpu_kernels[gpu_arch].kernel_efficiency
        if key in table:
            return table[key]
        base = {POINTWISE_CONV: OpKind.CONV2D.value, OpKind.CONV_TRANSPOSE2D.value: OpKind.CONV2D.value,
                REGION_YOLO: OpKind.UNARY_MATH.value}.get(key)
        return table[base] if base in table else table["default"]

    def version(self, name: str) -> RuntimeVersion:
        for v in self.versions:
            if v.version == name:
                return v
        raise KeyError(name)
