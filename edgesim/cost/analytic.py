"""The fast analytical path: per op, cycles = max(compute, traffic at each memory level) + overhead.

This is Vela's npu_performance rule (compute and DMA overlap per op); it reads the same Schedule as the event
engine, so the two can differ only by what contention and pipelining add.
"""

from __future__ import annotations

from typing import Any

from edgesim.cost.estimate import EnergyBreakdown, Estimate, LayerCost
from edgesim.hw.schema import ChipKind, HardwareProfile, MemoryKind, MemoryLevel
from edgesim.mapping.plan import OpPlan, Schedule

_ENERGY_FALLBACK = {
    "int4": ("int4", "int8"),
    "int8": ("int8", "int16"),
    "int16": ("int16", "int8", "fp16"),
    "int32": ("int16", "fp32"),
    "fp16": ("fp16", "fp32"),
    "fp32": ("fp32", "fp16"),
}


# Off-chip memories whose bytes also pay the DMA engine's energy per byte.
_DMA_CHARGED = frozenset({MemoryKind.DRAM, MemoryKind.FLASH, MemoryKind.HOST_LINK})


def lookup_precision(table: dict[Any, float], precision: str) -> float:
    """The table's entry for ``precision``, else for the nearest precision it has (``_ENERGY_FALLBACK``), else its
    largest. The keys are Precision members, a StrEnum: a label finds its member directly (hash and == of the
    text), no relabelled copy of the table per layer (this runs for every layer of every interval rerun)."""
    for p in _ENERGY_FALLBACK.get(precision, (precision,)):
        value = table.get(p)
        if value is not None:
            return float(value)
    return max(table.values()) if table else 0.0


def voltage_at(profile: HardwareProfile, clock_mhz: float) -> float:
    """Supply voltage of the lowest DVFS point that reaches ``clock_mhz`` (the highest point if none does)."""
    points = sorted(profile.dvfs.operating_points, key=lambda p: p.freq_mhz)
    if not points:
        return float(profile.dvfs.nominal_voltage_v)
    for p in points:
        if p.freq_mhz >= clock_mhz - 1e-9:
            return float(p.voltage_v)
    return float(points[-1].voltage_v)


def dynamic_energy_scale(profile: HardwareProfile) -> float:
    """Dynamic energy per operation scales with V^2 (C V^2 per switch) relative to the nominal voltage."""
    v = voltage_at(profile, profile.clock_mhz)
    return (v / profile.dvfs.nominal_voltage_v) ** 2


def memory_cycles(plan: OpPlan, profile: HardwareProfile) -> dict[str, float]:
    """Cycles (unit clock) each memory level is busy for this op."""
    return _memory_cycles(plan, profile, [profile.memory(t.memory) for t in plan.traffic])


def _memory_cycles(plan: OpPlan, profile: HardwareProfile, mems: list[MemoryLevel]) -> dict[str, float]:
    """``memory_cycles`` with the memory level of each of ``plan.traffic`` already looked up (``mems``)."""
    out: dict[str, float] = {}
    for t, mem in zip(plan.traffic, mems, strict=True):
        read_s, write_s = mem.transfer_s(t.read_bytes, t.write_bytes, profile.clock_mhz)
        cycles = (read_s + write_s) * plan.unit_clock_hz
        if t.read_bytes or t.write_bytes:
            cycles += mem.latency_cycles
        out[t.memory] = out.get(t.memory, 0.0) + cycles
    return out


def layer_energy(plan: OpPlan, profile: HardwareProfile, latency_s: float, scale: float) -> EnergyBreakdown:
    return _layer_energy(plan, profile, latency_s, scale, [profile.memory(t.memory) for t in plan.traffic])


def _layer_energy(plan: OpPlan, profile: HardwareProfile, latency_s: float, scale: float,
                  mems: list[MemoryLevel]) -> EnergyBreakdown:
    """``layer_energy`` with the memory level of each of ``plan.traffic`` already looked up (``mems``)."""
    e = profile.energy
    unit = profile.unit(plan.unit)
    if unit.active_energy_pj_per_cycle is not None:
        busy_cycles = plan.compute_cycles
        if profile.kind is ChipKind.MCU:
            # An MCU draws its run current on every clock of the op (no clock gating of a stalled in-order core):
            # the cycles it waits on flash and the runtime's per-op overhead cost as much as compute cycles.
            busy_cycles = max(plan.compute_cycles, latency_s * plan.unit_clock_hz)
        compute_pj = busy_cycles * unit.count * unit.active_energy_pj_per_cycle
    else:
        compute_pj = plan.macs * lookup_precision(e.mac_energy_pj, plan.precision)
        compute_pj += plan.elementwise_ops * lookup_precision(e.elementwise_energy_pj_per_op, plan.precision)
    compute_pj *= profile.power.board_power_factor  # measured board power / datasheet figures (1.0 = none)
    mem: dict[str, float] = {}
    for t, m in zip(plan.traffic, mems, strict=True):
        pj = t.read_bytes * m.read_energy_pj_per_byte + t.write_bytes * m.write_energy_pj_per_byte
        if m.kind in _DMA_CHARGED:
            pj += (t.read_bytes + t.write_bytes) * e.dma_energy_pj_per_byte
        mem[t.memory] = mem.get(t.memory, 0.0) + pj * 1e-12 * scale
    static_j = profile.power.static_power_w * latency_s
    return EnergyBreakdown(compute_pj * 1e-12 * scale, tuple(sorted(mem.items())), static_j)


def cost_layer(plan: OpPlan, profile: HardwareProfile, scale: float) -> LayerCost:
    if plan.unit == "-":
        return LayerCost(plan.node, plan.op, "-", plan.precision, 0, 0.0, 0.0, 0.0, 0.0, EnergyBreakdown(),
                         "none", (), False, plan.fused_from)
    mems = [profile.memory(t.memory) for t in plan.traffic]  # looked up once for the cycles and the energy
    mem = _memory_cycles(plan, profile, mems)
    worst_mem, worst_cycles = max(mem.items(), key=lambda kv: kv[1]) if mem else ("", 0.0)
    busy = max(plan.compute_cycles, worst_cycles)
    stall = busy - plan.compute_cycles
    if plan.overhead_cycles > busy:
        bound = "overhead"
    elif worst_cycles > plan.compute_cycles:
        bound = f"memory:{worst_mem}"
    else:
        bound = "compute"
    cycles = busy + plan.overhead_cycles
    latency_s = cycles / plan.unit_clock_hz
    return LayerCost(
        name=plan.node, op=plan.op, unit=plan.unit, precision=plan.precision, macs=plan.macs,
        compute_cycles=plan.compute_cycles, stall_cycles=stall, overhead_cycles=plan.overhead_cycles,
        latency_s=latency_s, energy=_layer_energy(plan, profile, latency_s, scale, mems), bound=bound,
        bytes_by_memory=tuple((t.memory, t.read_bytes, t.write_bytes) for t in plan.traffic),
        fallback=plan.fallback, fused_from=plan.fused_from,
    )


def estimate_schedule(schedule: Schedule, profile: HardwareProfile) -> Estimate:
    scale = dynamic_energy_scale(profile)
    layers = tuple(cost_layer(p, profile, scale) for p in schedule.plans)
    ops_s = sum(layer.latency_s for layer in layers)
    latency_s = schedule.inference_latency_s(ops_s)
    energy = EnergyBreakdown.total_of(layer.energy for layer in layers)
    # the layers charged their own static power; the time outside them draws it too
    energy = energy + EnergyBreakdown(static_j=profile.power.static_power_w * schedule.idle_s(ops_s))
    return Estimate(
        model=schedule.model, hw=schedule.hw, runtime=schedule.runtime, latency_s=latency_s, energy=energy,
        cycles=latency_s * schedule.host_clock_hz, layers=layers,
        peak_activation_bytes=schedule.peak_activation_bytes, activation_memory=schedule.activation_memory,
        activation_memory_bytes=schedule.activation_memory_bytes, total_weight_bytes=schedule.total_weight_bytes,
        clock_mhz=profile.clock_mhz, notes=schedule.notes,
    )
