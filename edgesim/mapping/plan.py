"""The mapping's output: one OpPlan per op, the single source of truth that both cost paths consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TimingDiscipline(StrEnum):
    """How the event engine times an op's tiles (edgesim.sim.timing has one class per discipline)."""

    INTERLEAVED = "interleaved"  # no DMA (CPUs): a tile's loads, stores and arithmetic interleave
    DOUBLE_BUFFERED = "double_buffered"  # DMA units: the next tile loads while this one computes
    SCALESIM = "scalesim"  # SCALE-Sim v3's memory semantics on its systolic configs


@dataclass(frozen=True)
class MemTraffic:
    """Bytes one op moves at one memory level."""

    memory: str
    read_bytes: int
    write_bytes: int


@dataclass(frozen=True)
class TileGroup:
    """``count`` identical tiles, each with the given compute cycles and traffic (unit clock cycles)."""

    count: int
    compute_cycles: float
    traffic: tuple[MemTraffic, ...]
    working_set_bytes: int = 0  # bytes one tile occupies in the local memory, double-buffering included

    def scaled(self, k: float) -> TileGroup:
        """The group with its compute cycles times ``k`` (an interval's perturbed compute rate scales every tile's
        cycles alike: pipeline.interval_remap). Built directly: dataclasses.replace walks the fields on each call."""
        return TileGroup(self.count, self.compute_cycles * k, self.traffic, self.working_set_bytes)


@dataclass(frozen=True)
class OpPlan:
    node: str
    op: str
    unit: str  # name of the compute unit, or "-" for ops that move no data (views)
    precision: str
    macs: int
    elementwise_ops: int
    compute_cycles: float  # in the unit's clock, all tiles together, without memory stalls
    traffic: tuple[MemTraffic, ...]  # summed over tiles
    overhead_cycles: float  # runtime per-op overhead (dispatch, im2col setup...), unit clock
    unit_clock_hz: float
    tiles: tuple[TileGroup, ...] = ()
    fallback: bool = False  # placed on the host because no accelerator supports it
    fused_from: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    weight_bytes: int = 0
    activation_bytes: int = 0
    output_bytes: int = 0
    depends_on: tuple[str, ...] = ()  # plans (node names) whose outputs this op reads, views resolved
    local_memory: str = ""  # on-chip memory the tiles are staged in ("" = untiled)
    tile_shape: tuple[int, int, int] = (0, 0, 0)  # (output rows, output channels, input channels) per tile
    loop_order: str = "whole"
    timing: TimingDiscipline = TimingDiscipline.INTERLEAVED  # how the event engine times the tiles
    # (output rows, kernel rows, stride rows, input rows) when the op's tiles are row bands of one feature map, so
    # a consumer can stream from it (layer pipelining); zeros = it needs its whole input first.
    row_window: tuple[int, int, int, int] = (0, 0, 0, 0)
    weight_memory: str = ""  # where its weights are read from ("" = no weights)
    fill_lead_cycles: float = 0.0  # the first fill takes at least this long (Tiling.fill_lead_cycles)


@dataclass(frozen=True)
class Schedule:
    """All op plans of a graph in execution order, plus graph-level facts the report needs."""

    model: str
    hw: str
    runtime: str
    plans: tuple[OpPlan, ...]
    per_inference_overhead_cycles: float
    host_clock_hz: float
    peak_activation_bytes: int
    activation_memory: str
    activation_memory_bytes: int
    weight_memory: str
    total_weight_bytes: int
    notes: tuple[str, ...] = field(default=())
    # Scheduling capabilities of the runtime (see RuntimeProfile): independent ops on different cores of a
    # multi-core unit, and consumers streaming row bands from producers on another unit/core.
    inter_op_parallel: bool = False
    layer_pipelining: bool = False
    # Inference requests the device executes at once in a stream (RuntimeProfile.request_cores): frame f starts
    # only when frame f - requests_in_flight has ended. None = no limit.
    requests_in_flight: int | None = None
    # Multi-context execution (ComputeUnit.context_weight_bytes): contexts run one after another per inference,
    # each switch costing context_switch_cycles of the host clock; 1 = the network is resident at once.
    contexts: int = 1
    context_switch_cycles: float = 0.0
    # and, per switch of the whole network, context_switch_layer_cycles for each of its context_layers hardware
    # layers (every layer's configuration is loaded once per inference or batch).
    context_layers: int = 0
    context_switch_layer_cycles: float = 0.0
    # and the bytes a switch of the whole network reads into the chip (weights and layer configuration,
    # mapping.contexts.context_load), and the seconds they take from the memory they are loaded from.
    context_load_bytes: int = 0
    context_load_s: float = 0.0
    # Seconds of a host round trip every frame waits for and queued frames cannot overlap (an RPC to the device,
    # RuntimeProfile.frame_round_trips): no frame's latency and no stream's period is shorter. 0 = none.
    frame_floor_s: float = 0.0

    @property
    def context_switch_s(self) -> float:
        """Seconds one inference (or one batch) spends switching contexts."""
        if self.contexts <= 1:
            return 0.0
        cycles = self.contexts * self.context_switch_cycles + self.context_layers * self.context_switch_layer_cycles
        return cycles / self.host_clock_hz + self.context_load_s

    @property
    def overhead_s(self) -> float:
        """Seconds one inference spends outside its ops: the runtime's per-inference overhead and, for a
        multi-context network, its context switches."""
        return self.per_inference_overhead_cycles / self.host_clock_hz + self.context_switch_s

    def idle_s(self, ops_s: float) -> float:
        """Seconds one inference spends outside its ops when they take ``ops_s``: its overhead, or the rest of a
        frame's round trip where that is longer (static power still burns)."""
        return max(self.overhead_s, self.frame_floor_s - ops_s)

    def inference_latency_s(self, ops_s: float) -> float:
        """One inference's latency when its ops take ``ops_s`` seconds (a sum of layers, or the event engine's
        makespan): the one formula both cost paths and the power trace use."""
        return ops_s + self.idle_s(ops_s)

    @property
    def fits_on_chip(self) -> bool:
        return self.peak_activation_bytes <= self.activation_memory_bytes
