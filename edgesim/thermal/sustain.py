"""Minutes to hours of sustained inference on two time scales.

One inference is estimated once per DVFS operating point and reused; the thermal RC network (exact exponential
integration), the fan and the governor then step on windows of ``window_s`` seconds, each window drawing the average
power of the inferences it holds. Thermal time constants are seconds to minutes, so averaging power over sub-second
windows loses nothing visible, and an hour of simulated time is a few thousand steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgesim.cost.analytic import estimate_schedule, voltage_at
from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.thermal.governor import GovernorKind, choose_frequency
from edgesim.thermal.plant import ThermalPlant, with_ambient

# A bound on thermal steps so a typo (--window 1e-9) fails fast instead of running for days.
_MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class OperatingPointResult:
    freq_mhz: float
    voltage_v: float
    latency_s: float
    dynamic_energy_j: float  # per inference, without static power
    static_power_w: float


@dataclass(frozen=True)
class SustainResult:
    hw: str
    model: str
    duration_s: float
    rate_hz: float | None
    governor: str
    ambient_c: float
    throttled: bool
    throttle_onset_s: float | None
    max_temp_c: float
    final_temp_c: float
    mean_latency_s: float
    energy_per_inference_j: float
    inferences: float
    frames_missed: float
    average_power_w: float
    time_s: tuple[float, ...] = field(repr=False)
    temp_c: tuple[float, ...] = field(repr=False)
    freq_mhz: tuple[float, ...] = field(repr=False)
    latency_s: tuple[float, ...] = field(repr=False)
    power_w: tuple[float, ...] = field(repr=False)
    energy_per_inference_series_j: tuple[float, ...] = field(repr=False)
    fan_pct: tuple[float, ...] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hw": self.hw, "model": self.model, "duration_s": self.duration_s, "rate_hz": self.rate_hz,
            "governor": self.governor, "ambient_c": self.ambient_c, "throttled": self.throttled,
            "throttle_onset_s": self.throttle_onset_s, "max_temp_c": self.max_temp_c,
            "final_temp_c": self.final_temp_c, "mean_latency_s": self.mean_latency_s,
            "energy_per_inference_j": self.energy_per_inference_j, "inferences": self.inferences,
            "frames_missed": self.frames_missed, "average_power_w": self.average_power_w,
            "series": {
                "time_s": list(self.time_s), "temp_c": list(self.temp_c), "freq_mhz": list(self.freq_mhz),
                "latency_s": list(self.latency_s), "power_w": list(self.power_w),
                "energy_per_inference_j": list(self.energy_per_inference_series_j), "fan_pct": list(self.fan_pct),
            },
        }


def characterise(graph: Graph, profile: Any, runtime: Any = None, version: Any = None) -> list[OperatingPointResult]:
    """One estimate per DVFS operating point (the multi-timescale cache)."""
    points = sorted({p.freq_mhz for p in profile.dvfs.operating_points} | {profile.clock_mhz})
    points = [f for f in points if f <= max(p.freq_mhz for p in profile.dvfs.operating_points) + 1e-9]
    out = []
    for f in points:
        prof_f = profile.with_clock(f)
        est = estimate_schedule(build_schedule(graph, prof_f, runtime, version), prof_f)
        static_w = prof_f.power.static_power_mw * 1e-3
        dyn = max(est.energy_j - static_w * est.latency_s, 0.0)
        out.append(OperatingPointResult(f, voltage_at(prof_f, f), est.latency_s, dyn, static_w))
    return out


def leakage_scale(profile: Any) -> Callable[[float], float]:
    """Factor on static power at a die temperature: exp(coeff (T - T_ref)), or 1 when the profile has no coefficient."""
    pw = profile.power
    coeff = pw.leakage_temp_coeff_per_c
    if coeff is None:
        return lambda _temp_c: 1.0
    ref = pw.leakage_ref_temp_c
    return lambda temp_c: math.exp(coeff * (temp_c - ref))


def sustain(
    graph: Graph,
    profile: Any,
    *,
    runtime: Any = None,
    version: Any = None,
    duration_s: float = 600.0,
    rate_hz: float | None = None,
    ambient_c: float | None = None,
    governor: GovernorKind = GovernorKind.PERFORMANCE,
    window_s: float = 0.5,
    points: list[OperatingPointResult] | None = None,
) -> SustainResult:
    """Run ``graph`` back to back (``rate_hz`` None) or at ``rate_hz`` for ``duration_s`` seconds."""
    # 'not x > 0' (rather than 'x <= 0') also refuses nan; inf would never finish.
    if not 0 < duration_s < math.inf:
        raise EdgesimError(f"--duration must be positive and finite, got {duration_s}")
    if rate_hz is not None and not 0 < rate_hz < math.inf:
        raise EdgesimError(f"--rate must be positive and finite, got {rate_hz}")
    if not 0 < window_s < math.inf:
        raise EdgesimError(f"--window must be positive and finite, got {window_s}")
    if duration_s / window_s > _MAX_STEPS:
        raise EdgesimError(f"--duration {duration_s:g} s in --window {window_s:g} s steps is more than "
                           f"{_MAX_STEPS:.0e} steps; use a longer window")
    profile = with_ambient(profile, ambient_c)
    ops = points or characterise(graph, profile, runtime, version)
    by_f = {p.freq_mhz: p for p in ops}
    freqs = sorted(by_f)
    lat = {f: by_f[f].latency_s for f in freqs}
    th = profile.thermal
    plant = ThermalPlant(profile)
    idle_w = profile.power.idle_power_mw * 1e-3
    leak_scale = leakage_scale(profile)
    period = 1.0 / rate_hz if rate_hz else None
    steps = int(np.ceil(duration_s / window_s))
    series: dict[str, list[float]] = {k: [] for k in ("t", "T", "f", "lat", "p", "e", "fan")}
    onset: float | None = None
    total_inf = total_missed = total_energy = 0.0
    lat_weighted = 0.0
    t = 0.0
    for _ in range(steps):
        dt = min(window_s, duration_s - t)
        cap = plant.cap_mhz
        f = choose_frequency(governor, freqs, lat, period, cap)
        if cap is not None and cap < max(freqs) and onset is None:
            onset = t
        op = by_f[f]
        if period is None:
            done = dt / op.latency_s
            busy = 1.0
            missed = 0.0
        else:
            wanted = dt / period
            done = min(wanted, dt / op.latency_s)
            missed = wanted - done
            busy = min(1.0, done * op.latency_s / dt)
        # Static power is the busy chip's floor and idle power the idle chip's total, so each holds for its share
        # of the window (charging both while idle would count the idle chip's leakage twice). Leakage grows with
        # temperature busy or idle: the growth over static_power_mw is added for the whole window.
        extra_leak_w = op.static_power_w * (leak_scale(plant.power_node_temp_c) - 1.0)
        static_w = op.static_power_w + extra_leak_w
        power = busy * op.static_power_w + done * op.dynamic_energy_j / dt + (1.0 - busy) * idle_w + extra_leak_w
        t_sensor = plant.step(power, dt)
        t += dt
        total_inf += done
        total_missed += missed
        energy_window = power * dt
        total_energy += energy_window
        lat_weighted += done * op.latency_s
        series["t"].append(t)
        series["T"].append(t_sensor)
        series["f"].append(f)
        series["lat"].append(op.latency_s)
        series["p"].append(power)
        series["e"].append(op.dynamic_energy_j + static_w * op.latency_s)
        series["fan"].append(plant.fan_pct)
    return SustainResult(
        hw=profile.id, model=graph.name, duration_s=duration_s, rate_hz=rate_hz, governor=governor.value,
        ambient_c=th.ambient_c, throttled=onset is not None, throttle_onset_s=onset,
        max_temp_c=max(series["T"]), final_temp_c=series["T"][-1],
        mean_latency_s=lat_weighted / total_inf if total_inf else 0.0,
        energy_per_inference_j=float(np.mean(series["e"])),
        inferences=total_inf, frames_missed=total_missed, average_power_w=total_energy / duration_s,
        time_s=tuple(series["t"]), temp_c=tuple(series["T"]), freq_mhz=tuple(series["f"]),
        latency_s=tuple(series["lat"]), power_w=tuple(series["p"]),
        energy_per_inference_series_j=tuple(series["e"]), fan_pct=tuple(series["fan"]),
    )


@dataclass(frozen=True)
class BatteryLife:
    capacity_j: float
    average_power_w: float
    hours: float
    inferences_per_charge: float


def battery_life(energy_per_inference_j: float, latency_s: float, rate_hz: float, sleep_power_w: float,
                 capacity_wh: float) -> BatteryLife:
    """Duty-cycled life: each period runs one inference and sleeps for the rest."""
    if not 0 < capacity_wh < math.inf:
        raise EdgesimError(f"battery capacity must be positive and finite, got {capacity_wh} Wh")
    period = 1.0 / rate_hz
    if latency_s > period:
        raise EdgesimError(f"an inference takes {latency_s:.4g} s, longer than the period {period:.4g} s at "
                           f"{rate_hz:g} Hz")
    energy_per_period = energy_per_inference_j + sleep_power_w * (period - latency_s)
    avg = energy_per_period / period
    cap_j = capacity_wh * 3600.0
    return BatteryLife(cap_j, avg, cap_j / avg / 3600.0, cap_j / energy_per_period)
