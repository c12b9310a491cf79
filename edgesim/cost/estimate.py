"""Frozen results that add: per-layer costs and whole-inference estimates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EnergyBreakdown:
    """Joules split by component; ``memory_j`` maps memory level name -> joules."""

    compute_j: float = 0.0
    memory_j: tuple[tuple[str, float], ...] = ()
    static_j: float = 0.0

    @property
    def total_j(self) -> float:
        return self.compute_j + sum(v for _, v in self.memory_j) + self.static_j

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        mem = dict(self.memory_j)
        for k, v in other.memory_j:
            mem[k] = mem.get(k, 0.0) + v
        return EnergyBreakdown(self.compute_j + other.compute_j, tuple(sorted(mem.items())),
                               self.static_j + other.static_j)

    @staticmethod
    def total_of(parts: Iterable[EnergyBreakdown]) -> EnergyBreakdown:
        """``EnergyBreakdown() + parts[0] + parts[1] + ...``: the same additions in the same order (so the same
        floats), without a sorted copy per part (an interval costs every layer of a network several times)."""
        compute_j, static_j = 0.0, 0.0
        mem: dict[str, float] = {}
        for part in parts:
            compute_j = compute_j + part.compute_j
            for k, v in part.memory_j:
                mem[k] = mem.get(k, 0.0) + v
            static_j = static_j + part.static_j
        return EnergyBreakdown(compute_j, tuple(sorted(mem.items())), static_j)

    def as_dict(self) -> dict[str, float]:
        out = {"compute": self.compute_j}
        for k, v in self.memory_j:
            out[f"mem:{k}"] = v
        out["static"] = self.static_j
        return out


@dataclass(frozen=True)
class LayerCost:
    name: str
    op: str
    unit: str
    precision: str
    macs: int
    compute_cycles: float  # unit clock cycles spent computing
    stall_cycles: float  # cycles waiting for memory beyond compute (0 if compute-bound)
    overhead_cycles: float  # runtime dispatch overhead
    latency_s: float
    energy: EnergyBreakdown
    bound: str  # "compute", "memory:<level>", "overhead" or "none"
    bytes_by_memory: tuple[tuple[str, int, int], ...]  # (memory, read bytes, write bytes)
    fallback: bool = False
    fused_from: tuple[str, ...] = ()
    # Latency outside ``cycles``: on SCALE-Sim configs, the scratchpad fill and the final ofmap drain that
    # SCALE-Sim reports in "total cycles incl. prefetch" but not in "total cycles" (which ``cycles`` matches).
    prefetch_cycles: float = 0.0

    @property
    def cycles(self) -> float:
        return self.compute_cycles + self.stall_cycles + self.overhead_cycles

    @property
    def energy_j(self) -> float:
        return self.energy.total_j


@dataclass(frozen=True)
class Estimate:
    """A whole-inference estimate. ``cycles`` counts the host clock."""

    model: str
    hw: str
    runtime: str
    latency_s: float
    energy: EnergyBreakdown
    cycles: float
    layers: tuple[LayerCost, ...] = field(default=())
    peak_activation_bytes: int = 0
    activation_memory: str = ""
    activation_memory_bytes: int = 0
    total_weight_bytes: int = 0
    clock_mhz: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def energy_j(self) -> float:
        return self.energy.total_j

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.latency_s if self.latency_s > 0 else 0.0

    @property
    def fits_on_chip(self) -> bool:
        return self.peak_activation_bytes <= self.activation_memory_bytes

    def __add__(self, other: Estimate) -> Estimate:
        """Two inferences back to back (e.g. pipeline stages or a model run twice)."""
        return Estimate(
            model=f"{self.model}+{other.model}", hw=self.hw, runtime=self.runtime,
            latency_s=self.latency_s + other.latency_s, energy=self.energy + other.energy,
            cycles=self.cycles + other.cycles, layers=self.layers + other.layers,
            peak_activation_bytes=max(self.peak_activation_bytes, other.peak_activation_bytes),
            activation_memory=self.activation_memory, activation_memory_bytes=self.activation_memory_bytes,
            total_weight_bytes=self.total_weight_bytes + other.total_weight_bytes, clock_mhz=self.clock_mhz,
            notes=self.notes + other.notes,
        )
