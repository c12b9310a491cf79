"""The discrete-event engine: compute units, DMA and memory ports as SimPy processes/resources.

Time is integer picoseconds, so identical inputs give bit-identical results. Each unit runs its ops in schedule
order and waits for the ops (on any unit) whose outputs it reads, so independent branches on an NPU and a CPU
overlap; all units, cores and DMA channels share one port per memory level, which is where contention comes from.
What the runtime declares (Schedule.inter_op_parallel, .layer_pipelining) adds independent ops on different cores
of one unit and consumers streaming row bands from their producers (unit.py, pipeline.py); ``frames`` queues
several inferences at once for a throughput figure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import simpy

from edgesim.cost.analytic import dynamic_energy_scale, layer_energy
from edgesim.cost.estimate import EnergyBreakdown, Estimate, LayerCost
from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
from edgesim.mapping.plan import OpPlan, Schedule
from edgesim.sim.memory import PS_PER_S, MemoryPort
from edgesim.sim.trace import Tracer
from edgesim.sim.unit import STALL_CAUSE_BY_KIND, OpRecord, Shared, UnitProcess

STALL_CAUSES = ("dram", "sram", "flash", "compute", "dependency")


@dataclass(frozen=True)
class OpTiming:
    node: str
    unit: str
    start_s: float  # the cores it got were free for this op (dependency wait counts from here)
    end_s: float
    compute_cycles: float  # on the cores it got: the plan's cycles x unit cores / cores used
    overhead_cycles: float
    stall_cycles: tuple[tuple[str, float], ...]  # (cause, unit cycles) for every cause in STALL_CAUSES
    stall_by_memory: tuple[tuple[str, float], ...] = ()  # (memory level, unit cycles): the memory stalls split
    cores: tuple[int, ...] = (0,)  # which cores of its unit ran it
    # Time outside ``cycles`` (SCALE-Sim-semantics ops only): the scratchpad fill before the first fold and the
    # ofmap drain after the last, SCALE-Sim's "total cycles incl. prefetch" minus its "total cycles".
    prefetch_cycles: float = 0.0

    @property
    def total_stall_cycles(self) -> float:
        return sum(c for _, c in self.stall_cycles)

    @property
    def cycles(self) -> float:
        return self.compute_cycles + self.overhead_cycles + self.total_stall_cycles

    def stall(self, cause: str) -> float:
        return dict(self.stall_cycles).get(cause, 0.0)

    @property
    def busy_cycles(self) -> float:
        """Cycles the op kept its unit busy (what its energy is charged over): its cycles and prefetch, less the
        idle wait for another unit's producer, which is that unit's time, charged to its own op."""
        return self.cycles + self.prefetch_cycles - self.stall("dependency")


@dataclass(frozen=True)
class SimResult:
    ops: tuple[OpTiming, ...]  # schedule order, views excluded (the first frame when several were simulated)
    makespan_s: float  # one inference: the first frame's last op ends
    memory_busy_s: tuple[tuple[str, float], ...]
    frames: int = 1
    # Inferences per second with ``frames`` queued at once: frames / wall time until the last one ends (1 /
    # latency for one frame); it approaches the steady state from below as frames grow, fill and drain included.
    throughput_inf_per_s: float = 0.0

    def op(self, node: str) -> OpTiming:
        for o in self.ops:
            if o.node == node:
                return o
        raise KeyError(node)


def _timing(rec: OpRecord, node: str, compute_cycles: float, overhead_cycles: float,
            kinds: dict[str, str]) -> OpTiming:
    hz = rec.clock_hz
    to_cycles = hz / PS_PER_S
    # Compute is what the plan says on the cores the op got; everything else it spent after its overhead is
    # a stall: waiting for a producer's rows (dependency), else for memory.
    stall_ps = max(0, rec.end_ps - rec.exec_start_ps - rec.compute_ps - rec.prefetch_ps)
    stalls = dict.fromkeys(STALL_CAUSES, 0.0)
    stream_ps = min(stall_ps, rec.stream_wait_ps)
    stalls["dependency"] = (rec.start_ps - rec.unit_free_ps + stream_ps) * to_cycles
    stall_ps -= stream_ps
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
    return OpTiming(node, rec.unit, rec.unit_free_ps / PS_PER_S, rec.end_ps / PS_PER_S,
                    compute_cycles * rec.core_scale, overhead_cycles, tuple(stalls.items()),
                    tuple(by_memory.items()), rec.cores, rec.prefetch_ps * to_cycles)


def _frame_key(node: str, frame: int) -> str:
    return node if frame == 0 else f"{node}#{frame}"


def _frame_plans(plans: list[OpPlan], frames: int, in_flight: int | None = None) -> list[OpPlan]:
    """Every plan once per frame; frame f reads only frame f's producers. With ``in_flight`` requests at most on
    the device, frame f's first ops (those no other op of the frame feeds) also wait for frame f - in_flight's
    last ops (those feeding no other op): the runtime queues the request until one in flight ends."""
    out = list(plans)
    names = {p.node for p in plans}
    fed = {d for p in plans for d in p.depends_on}
    sinks = [p.node for p in plans if p.node not in fed]
    for f in range(1, frames):
        gate = tuple(_frame_key(s, f - in_flight) for s in sinks) if in_flight and f >= in_flight else ()
        out += [replace(p, node=_frame_key(p.node, f),
                        depends_on=tuple(_frame_key(d, f) for d in p.depends_on)
                        + (() if names.intersection(p.depends_on) else gate))
                for p in plans]
    return out


def simulate_schedule(schedule: Schedule, profile: HardwareProfile, tracer: Tracer | None = None,
                      frames: int = 1) -> SimResult:
    """Run the schedule; with ``frames`` > 1, that many inferences are queued at once (throughput mode) and
    overlap where units, cores and layer pipelining allow."""
    if frames < 1:
        raise EdgesimError(f"frames must be >= 1, got {frames}", field="frames")
    env = simpy.Environment()
    ports = {m.name: MemoryPort(env, m, profile.clock_mhz) for m in profile.memories}
    plans = [p for p in schedule.plans if p.unit != "-"]
    all_plans = _frame_plans(plans, frames, schedule.requests_in_flight)
    shared = Shared(env, ports, all_plans, {m.name: m.size_bytes for m in profile.memories},
                    schedule.inter_op_parallel, schedule.layer_pipelining,
                    {u.name: u.count for u in profile.units}, latency_first=frames == 1)
    by_unit: dict[str, list[OpPlan]] = {}
    for p in all_plans:
        by_unit.setdefault(p.unit, []).append(p)
    units: list[UnitProcess] = []
    for name, unit_plans in by_unit.items():
        proc = UnitProcess(env, profile.unit(name), unit_plans[0].unit_clock_hz, unit_plans, shared)
        units.append(proc)
        env.process(proc.run())
    env.run()
    missing = [p.node for p in all_plans if not shared.done[p.node].triggered]
    if missing:
        raise RuntimeError(f"event engine deadlocked; ops never ran: {missing[:5]}")
    records = shared.records
    kinds = {name: port.kind for name, port in ports.items()}
    ops = tuple(_timing(records[p.node], p.node, p.compute_cycles, p.overhead_cycles, kinds) for p in plans)
    makespan_ps = max((records[p.node].end_ps for p in plans), default=0)
    all_end_ps = max((r.end_ps for r in records.values()), default=0)
    # The runtime's per-inference overhead (host side) is paid once per stream: the host queues the next frame
    # while the units work, so it adds to the wall time but not per frame.
    wall_s = all_end_ps / PS_PER_S + schedule.per_inference_overhead_cycles / schedule.host_clock_hz
    # ... but a per-frame round trip the host waits for (Schedule.frame_floor_s) is paid by every frame.
    wall_s = max(wall_s, frames * schedule.frame_floor_s)
    throughput = frames / wall_s if wall_s > 0 else 0.0
    if tracer is not None:
        rows = {u.name: u for u in units}
        for p in all_plans:
            r = records[p.node]
            for core in r.cores:
                tracer.interval(rows[p.unit].core_label(core), r.start_ps / PS_PER_S, r.end_ps / PS_PER_S, p.node)
        for port in ports.values():
            for s, e, what in port.intervals:
                tracer.interval(f"mem:{port.name}", s / PS_PER_S, e / PS_PER_S, what)
    return SimResult(ops, makespan_ps / PS_PER_S, tuple((n, p.busy_ps / PS_PER_S) for n, p in ports.items()),
                     frames, throughput)


def _bound(t: OpTiming) -> str:
    """Same labels as the analytic path (memory:<level name>), plus "dependency" for waiting on another unit."""
    parts = {"compute": t.compute_cycles, "overhead": t.overhead_cycles, "dependency": t.stall("dependency")}
    for memory, c in t.stall_by_memory:
        parts[f"memory:{memory}"] = c
    return max(parts.items(), key=lambda kv: kv[1])[0]


def to_estimate(schedule: Schedule, profile: HardwareProfile, result: SimResult) -> Estimate:
    """The simulation as the shared Estimate/LayerCost report; energy from the analytic path's formulas."""
    scale = dynamic_energy_scale(profile)
    static_w = profile.power.static_power_w
    timing = {t.node: t for t in result.ops}
    layers: list[LayerCost] = []
    dynamic = EnergyBreakdown()
    for p in schedule.plans:
        if p.unit == "-":
            layers.append(LayerCost(p.node, p.op, "-", p.precision, 0, 0.0, 0.0, 0.0, 0.0, EnergyBreakdown(),
                                    "none", (), False, p.fused_from))
            continue
        t = timing[p.node]
        latency_s = (t.cycles + t.prefetch_cycles) / p.unit_clock_hz
        # Not charged over latency_s: an MCU's board power would count twice while the unit waits for another.
        energy = layer_energy(p, profile, t.busy_cycles / p.unit_clock_hz, scale)
        dynamic = dynamic + EnergyBreakdown(energy.compute_j, energy.memory_j, 0.0)
        layers.append(LayerCost(
            name=p.node, op=p.op, unit=p.unit, precision=p.precision, macs=p.macs,
            compute_cycles=t.compute_cycles, stall_cycles=t.total_stall_cycles, overhead_cycles=t.overhead_cycles,
            latency_s=latency_s, energy=energy, bound=_bound(t),
            bytes_by_memory=tuple((m.memory, m.read_bytes, m.write_bytes) for m in p.traffic),
            fallback=p.fallback, fused_from=p.fused_from, prefetch_cycles=t.prefetch_cycles,
        ))
    latency_s = schedule.inference_latency_s(result.makespan_s)
    # Static power burns once over the wall-clock time, however many units run at once.
    energy = dynamic + EnergyBreakdown(static_j=static_w * latency_s)
    return Estimate(
        model=schedule.model, hw=schedule.hw, runtime=schedule.runtime, latency_s=latency_s, energy=energy,
        cycles=latency_s * schedule.host_clock_hz, layers=tuple(layers),
        peak_activation_bytes=schedule.peak_activation_bytes, activation_memory=schedule.activation_memory,
        activation_memory_bytes=schedule.activation_memory_bytes, total_weight_bytes=schedule.total_weight_bytes,
        clock_mhz=profile.clock_mhz, notes=schedule.notes,
    )
