"""Energy breakdown: the parts (compute, each memory level, static) add up to the total on every bundled profile."""

from __future__ import annotations

import pytest

from edgesim.api import load_model, load_profile, resolve_runtime
from edgesim.cost.analytic import dynamic_energy_scale, estimate_schedule
from edgesim.hw.loader import list_profiles
from edgesim.mapping.mapper import build_schedule
from edgesim.sim.engine import simulate_schedule, to_estimate

PROFILES = [pid for pid, _ in list_profiles()]


@pytest.fixture(scope="module")
def resnet8():  # type: ignore[no-untyped-def]
    return load_model("resnet8")


@pytest.mark.parametrize("hw", PROFILES)
def test_parts_sum_to_total_and_static_is_power_times_latency(resnet8, hw: str) -> None:  # type: ignore[no-untyped-def]
    prof = load_profile(hw)
    rt, ver = resolve_runtime(prof, None)
    sched = build_schedule(resnet8, prof, rt, ver)
    static_w = prof.power.static_power_w
    analytic = estimate_schedule(sched, prof)
    simulated = to_estimate(sched, prof, simulate_schedule(sched, prof))
    for est in (analytic, simulated):
        parts = est.energy.as_dict()
        assert set(parts) >= {"compute", "static"}
        assert sum(parts.values()) == pytest.approx(est.energy_j, rel=1e-12)
        assert est.energy.static_j == pytest.approx(static_w * est.latency_s, rel=1e-9)
        assert est.energy.compute_j > 0.0
        # Per layer, the dynamic parts add up to the whole-model dynamic parts.
        layer_compute = sum(layer.energy.compute_j for layer in est.layers)
        assert layer_compute == pytest.approx(est.energy.compute_j, rel=1e-9)
        for level, joules in est.energy.memory_j:
            per_layer = sum(dict(layer.energy.memory_j).get(level, 0.0) for layer in est.layers)
            assert per_layer == pytest.approx(joules, rel=1e-9)
    # Same formulas on both paths: the dynamic energy agrees exactly, only the latency (static) may differ. MCU
    # cores charged per active cycle pay for each op's wall-clock cycles (flash stalls and per-op overhead
    # included), so there each path's compute energy follows its own op latencies.
    scale = dynamic_energy_scale(prof)
    plans = {p.node: p for p in sched.plans}
    mcu = prof.kind.value == "mcu"
    if not mcu:
        assert simulated.energy.compute_j == pytest.approx(analytic.energy.compute_j, rel=1e-9)
    for est in (analytic, simulated):
        for layer in est.layers:
            if layer.unit == "-":
                continue
            unit = prof.unit(layer.unit)
            if unit.active_energy_pj_per_cycle is None:
                continue
            plan = plans[layer.name]
            cycles = max(plan.compute_cycles, layer.latency_s * plan.unit_clock_hz) if mcu else plan.compute_cycles
            expected_j = (cycles * unit.count * unit.active_energy_pj_per_cycle * 1e-12 * scale
                          * prof.power.board_power_factor)
            assert layer.energy.compute_j == pytest.approx(expected_j, rel=1e-9), layer.name
