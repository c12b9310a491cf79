"""Power trace of one simulated inference: conserves the report's energy, peaks above the average."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim.api import load_model, load_profile, resolve_runtime
from edgesim.cost.power import summarize_power
from edgesim.mapping.mapper import build_schedule
from edgesim.sim.engine import simulate_schedule, to_estimate
from edgesim.sim.power import power_summary, power_trace


@pytest.fixture(scope="module")
def resnet8():  # type: ignore[no-untyped-def]
    return load_model("resnet8")


def _sim(graph, hw: str):  # type: ignore[no-untyped-def]
    prof = load_profile(hw)
    rt, ver = resolve_runtime(prof, None)
    sched = build_schedule(graph, prof, rt, ver)
    res = simulate_schedule(sched, prof)
    return sched, prof, res, to_estimate(sched, prof, res)


@pytest.mark.parametrize("hw", ["stm32l4r5", "ethos-u55-128", "rpi5", "jetson-orin-nano", "coral-edgetpu"])
def test_trace_integrates_to_the_reported_energy(resnet8, hw: str) -> None:  # type: ignore[no-untyped-def]
    sched, prof, res, est = _sim(resnet8, hw)
    t_s, p_w = power_trace(sched, prof, res)
    assert len(t_s) == len(p_w) + 1
    assert np.all(np.diff(t_s) >= 0)
    assert t_s[0] == 0.0 and t_s[-1] == pytest.approx(est.latency_s, rel=1e-12)
    static_w = prof.power.static_power_w
    assert np.all(p_w >= static_w * (1 - 1e-12))
    s = summarize_power(t_s, p_w)
    assert s.energy_j == pytest.approx(est.energy_j, rel=1e-9)
    assert s.average_power_w == pytest.approx(est.energy_j / est.latency_s, rel=1e-9)
    assert s.peak_power_w >= s.average_power_w
    assert power_summary(sched, prof, res) == s


def test_each_op_draws_its_energy_over_its_interval(resnet8) -> None:  # type: ignore[no-untyped-def]
    # Single-unit MCU: ops never overlap, so the power in the middle of an op is exactly static + E_op / span.
    sched, prof, res, est = _sim(resnet8, "stm32l4r5")
    t_s, p_w = power_trace(sched, prof, res)
    static_w = prof.power.static_power_w
    layers = {layer.name: layer for layer in est.layers}
    for op in res.ops:
        mid = 0.5 * (op.start_s + op.end_s)
        i = int(np.searchsorted(t_s, mid, side="right")) - 1
        e = layers[op.node].energy
        expected = static_w + (e.total_j - e.static_j) / (op.end_s - op.start_s)
        assert p_w[i] == pytest.approx(expected, rel=1e-9)


def test_parallel_units_peak_well_above_average(resnet8) -> None:  # type: ignore[no-untyped-def]
    # An NPU with a host CPU and DMA: the peak is a burst of the busiest layer, far above the average.
    sched, prof, res, _ = _sim(resnet8, "jetson-orin-nano")
    s = power_summary(sched, prof, res)
    # Static power (3 W module idle) is flat; the bursts are in the dynamic part.
    static_w = prof.power.static_power_w
    assert s.peak_power_w - static_w > 1.5 * (s.average_power_w - static_w) > 0


@pytest.mark.parametrize("hw", ["stm32u575", "rpi5"])
def test_analytic_estimate_power_matches_the_sequential_trace(resnet8, hw: str) -> None:  # type: ignore[no-untyped-def]
    # On a single-unit chip the event engine runs layers one after another, like the analytic path: same peak.
    from edgesim.cost.power import estimate_power

    sched, prof, res, est = _sim(resnet8, hw)
    p = estimate_power(est)
    assert p.average_power_w == pytest.approx(est.energy_j / est.latency_s, rel=1e-12)
    assert p.peak_power_w == pytest.approx(power_summary(sched, prof, res).peak_power_w, rel=1e-6)
