"""Power over time for one simulated inference.

Each op's dynamic energy (the analytic formulas of ``layer_energy``) is spread evenly over the interval the event
engine gave it, and static power burns for the whole inference. Ops on different units that overlap in time add up,
which is what makes the peak higher than the average on multi-unit chips.
"""

from __future__ import annotations

import numpy as np

from edgesim.cost.analytic import dynamic_energy_scale, layer_energy
from edgesim.cost.power import PowerSummary, summarize_power
from edgesim.hw.schema import HardwareProfile
from edgesim.mapping.plan import Schedule
from edgesim.sim.engine import SimResult


def power_trace(schedule: Schedule, profile: HardwareProfile, result: SimResult) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-constant power of one inference: ``p_w[i]`` holds on ``[t_s[i], t_s[i+1])``.

    ``t_s`` has one more element than ``p_w`` (the edges; ``matplotlib.pyplot.stairs(p_w, t_s)`` draws it). The
    trace ends at the inference latency (Schedule.inference_latency_s; the time outside the ops draws static
    power only).
    """
    scale = dynamic_energy_scale(profile)
    static_w = profile.power.static_power_w
    timing = {t.node: t for t in result.ops}
    latency_s = schedule.inference_latency_s(result.makespan_s)
    starts: list[float] = []
    ends: list[float] = []
    powers: list[float] = []
    for p in schedule.plans:
        if p.unit == "-":
            continue
        t = timing[p.node]
        # As sim.engine.to_estimate: the op draws power while it keeps its unit busy (OpTiming.busy_cycles), not
        # while the unit waited idle for another unit's producer (that wait comes first).
        dependency_s = t.stall("dependency") / p.unit_clock_hz
        e = layer_energy(p, profile, t.busy_cycles / p.unit_clock_hz, scale)
        dynamic_j = e.total_j - e.static_j
        start_s = min(t.start_s + dependency_s, t.end_s)
        span = t.end_s - start_s
        if dynamic_j <= 0.0:
            continue
        if span <= 0.0:  # a zero-length op still spent its energy: put it on a 1 ps sliver
            span = 1e-12
        starts.append(start_s)
        ends.append(start_s + span)
        powers.append(dynamic_j / span)
    edges = np.unique(np.concatenate([[0.0, max(latency_s, 0.0)], starts, ends]))
    edges = edges[edges <= max(latency_s, max(ends, default=0.0))]
    if len(edges) < 2:
        return np.array([0.0, latency_s]), np.array([static_w])
    # Difference array over the edges: +P at an op's start edge, -P at its end edge, then a running sum.
    delta = np.zeros(len(edges))
    if powers:
        pw = np.asarray(powers)
        np.add.at(delta, np.searchsorted(edges, starts), pw)
        np.add.at(delta, np.searchsorted(edges, ends), -pw)
    p_w = np.cumsum(delta)[:-1] + static_w
    return edges, np.maximum(p_w, static_w)


def power_summary(schedule: Schedule, profile: HardwareProfile, result: SimResult) -> PowerSummary:
    """``peak_power_w`` / ``average_power_w`` of one simulated inference, for the report."""
    return summarize_power(*power_trace(schedule, profile, result))
