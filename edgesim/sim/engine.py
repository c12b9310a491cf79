"""The discrete-event engine: compute units, DMA and memory ports as SimPy processes/resources.

Time is integer picoseconds, so identical inputs give bit-identical results. Each unit runs its ops in schedule
order and waits for the ops (on any unit) whose outputs it reads, so independent branches on an NPU and a CPU
overlap; all units and DMA channels share one port per memory level, which is where contention comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import simpy

from edgesim.cost.analytic import dynamic_energy_scale, layer_energy
from edgesim.cost.estimate import EnergyBreakdown, Estimate, LayerCost
from edgesim.mapping.plan import Schedule
from edgesim.sim.memory import PS_PER_S, MemoryPort
from edgesim.sim.trace import Tracer
from edgesim.sim.unit import STALL_CAUSE_BY_KIND, OpRecord, UnitProcess

STALL_CAUSES = ("dram", "sram", "flash", "compute", "dependency")


@dataclass(frozen=True)
class OpTiming:
    node: str
    unit: str
    start_s: float  # the unit was free for this op (dependency wait counts from here)
    end_s: float
    compute_cycles: float
    overhead_cycles: float
    stall_cycles: tuple[tuple[str, float], ...]  # (cause, unit cycles) for every cause in STALL_CAUSES
    stall_by_memory: tuple[tuple[str, float], ...] = ()  # (memory level, unit cycles): the memory stalls split

    @property
    def total_stall_cycles(self) -> float:
        return sum(c for _, c in self.stall_cycles)

    @property
    def cycles(self) -> float:
        return self.compute_cycles + self.overhead_cycles + self.total_stall_cycles

    def stall(self, cause: str) -> float:
        return dict(self.stall_cycles).get(cause, 0.0)


@dataclass(frozen=True)
class SimResult:
    ops: tuple[OpTiming, ...]  # schedule order, views excluded
    makespan_s: float
    memory_busy_s: tuple[tuple[str, float], ...]

    def op(self, node: str) -> OpTiming:
        for o in self.ops:
            if o.node == node:
                return o
        raise KeyError(node)


def _timing(rec: OpRecord, compute_cycles: float, overhead_cycles: float, kinds: dict[str, str]) -> OpTiming:
    hz = rec.clock_hz
    to_cycles = hz / PS_PER_S
    # Compute is what the plan says; everything else the op spent after its overhead is a stall.
    stall_ps = max(0, rec.end_ps - rec.exec_start_ps - rec.compute_ps)
    stalls = dict.fromkeys(STALL_CAUSES, 0.0)
    stalls["dependency"] = (rec.start_ps - rec.unit_free_ps) * to_cycles
    weights = {k: v for k, v in sorted(rec.mem_ps.items()) if v > 0}
    total_w = sum(weights.values())
    by_memory: dict[str, float] = {}
    if stall_ps and total_w:
        # Attribute the stall to the levels in proportion to how long their transfers were in flight.
        for memory, w in weights.items():
            share = stall_ps * to_cycles * w / total_w
            by_memory[memory] = share
            stalls[STALL_CAUSE_BY_KIND.get(kinds[memory], "sram")] += share
    elif stall_ps:
        stalls["compute"] += stall_ps * to_cycles
    return OpTiming(rec.node, rec.unit, rec.unit_free_ps / PS_PER_S, rec.end_ps / PS_PER_S, compute_cycles,
                    overhead_cycles, tuple(stalls.items()), tuple(by_memory.items()))


def simulate_schedule(schedule: Schedule, profile: Any, tracer: Tracer | None = None) -> SimResult:
    env = simpy.Environment()
    ports = {m.name: MemoryPort(env, m, profile.clock_mhz) for m in profile.memories}
    plans = [p for p in schedule.plans if p.unit != "-"]
    done = {p.node: env.event() for p in plans}
    records: dict[str, OpRecord] = {}
    by_unit: dict[str, list[Any]] = {}
    for p in plans:
        by_unit.setdefault(p.unit, []).append(p)
    for name, unit_plans in by_unit.items():
        unit = profile.unit(name)
        proc = UnitProcess(env, unit, unit_plans[0].unit_clock_hz, unit_plans, ports, done, records)
        env.process(proc.run())
    env.run()
    missing = [p.node for p in plans if not done[p.node].triggered]
    if missing:
        raise RuntimeError(f"event engine deadlocked; ops never ran: {missing[:5]}")
    kinds = {name: port.kind for name, port in ports.items()}
    ops = tuple(_timing(records[p.node], p.compute_cycles, p.overhead_cycles, kinds) for p in plans)
    makespan_ps = max((r.end_ps for r in records.values()), default=0)
    if tracer is not None:
        for p in plans:
            r = records[p.node]
            tracer.interval(p.unit, r.start_ps / PS_PER_S, r.end_ps / PS_PER_S, p.node)
        for port in ports.values():
            for s, e, what in port.intervals:
                tracer.interval(f"mem:{port.name}", s / PS_PER_S, e / PS_PER_S, what)
    return SimResult(ops, makespan_ps / PS_PER_S,
                     tuple((n, p.busy_ps / PS_PER_S) for n, p in ports.items()))


def _bound(t: OpTiming) -> str:
    """Same labels as the analytic path (memory:<level name>), plus "dependency" for waiting on another unit."""
    parts = {"compute": t.compute_cycles, "overhead": t.overhead_cycles, "dependency": t.stall("dependency")}
    for memory, c in t.stall_by_memory:
        parts[f"memory:{memory}"] = c
    return max(parts.items(), key=lambda kv: kv[1])[0]


def to_estimate(schedule: Schedule, profile: Any, result: SimResult) -> Estimate:
    """The simulation as the shared Estimate/LayerCost report; energy from the analytic path's formulas."""
    scale = dynamic_energy_scale(profile)
    static_w = profile.power.static_power_mw * 1e-3
    timing = {t.node: t for t in result.ops}
    layers: list[LayerCost] = []
    dynamic = EnergyBreakdown()
    for p in schedule.plans:
        if p.unit == "-":
            layers.append(LayerCost(p.node, p.op, "-", p.precision, 0, 0.0, 0.0, 0.0, 0.0, EnergyBreakdown(),
                                    "none", (), False, p.fused_from))
            continue
        t = timing[p.node]
        latency_s = t.cycles / p.unit_clock_hz
        energy = layer_energy(p, profile, latency_s, scale)
        dynamic = dynamic + EnergyBreakdown(energy.compute_j, energy.memory_j, 0.0)
        layers.append(LayerCost(
            name=p.node, op=p.op, unit=p.unit, precision=p.precision, macs=p.macs,
            compute_cycles=t.compute_cycles, stall_cycles=t.total_stall_cycles, overhead_cycles=t.overhead_cycles,
            latency_s=latency_s, energy=energy, bound=_bound(t),
            bytes_by_memory=tuple((m.memory, m.read_bytes, m.write_bytes) for m in p.traffic),
            fallback=p.fallback, fused_from=p.fused_from,
        ))
    latency_s = result.makespan_s + schedule.per_inference_overhead_cycles / schedule.host_clock_hz
    # Static power burns once over the wall-clock time, however many units run at once.
    energy = dynamic + EnergyBreakdown(static_j=static_w * latency_s)
    return Estimate(
        model=schedule.model, hw=schedule.hw, runtime=schedule.runtime, latency_s=latency_s, energy=energy,
        cycles=latency_s * schedule.host_clock_hz, layers=tuple(layers),
        peak_activation_bytes=schedule.peak_activation_bytes, activation_memory=schedule.activation_memory,
        activation_memory_bytes=schedule.activation_memory_bytes, total_weight_bytes=schedule.total_weight_bytes,
        clock_mhz=profile.clock_mhz, notes=schedule.notes,
    )
