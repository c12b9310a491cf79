"""Asymmetric multiprocessing: where to run inference on a big.LITTLE SoC, and what it does to heat and latency.

The profile's mapped host unit is the big cluster (DVFS, thermal throttling); ``little_cluster`` is the LITTLE one
at a fixed clock. A background load (OS, sensors, the application around the model) sits on the LITTLE cores at a
fixed power and takes a share of their time. Policies:

- ``big-only``: inference back to back (or at ``rate_hz``) on the big cluster;
- ``little-only``: on the LITTLE cluster, sharing it with the background load;
- ``burst``: on the big cluster for ``burst_on_s``, then ``burst_off_s`` of big-cluster idle in which no inference
  runs; the chip sheds heat in the gaps, paid for in throughput and so in the time each inference takes to come out.

Both clusters heat the same die (one thermal network, the profile's). Like ``sustain``, each inference is costed
once per operating point and the RC network steps on windows; a burst phase that ends inside a window contributes
its time fraction of that window, which is exact for the energy and good to well under a kelvin while the window is
short against the die time constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from edgesim.cost.analytic import estimate_schedule
from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.thermal.plant import ThermalPlant, with_ambient
from edgesim.thermal.sustain import OperatingPointResult, characterise, leakage_scale


class Policy(Enum):
    BIG_ONLY = "big-only"
    LITTLE_ONLY = "little-only"
    BURST = "burst"


@dataclass(frozen=True)
class BigLittleResult:
    hw: str
    model: str
    policy: str
    duration_s: float
    rate_hz: float | None
    background_power_w: float
    throttled: bool
    throttle_onset_s: float | None
    max_temp_c: float
    final_temp_c: float
    mean_latency_s: float  # compute time of one inference on the cluster that ran it
    # Wall time per inference seen by a back-to-back consumer (duration / inferences): includes the burst gaps.
    mean_effective_latency_s: float
    inferences: float
    frames_missed: float
    average_power_w: float
    time_s: tuple[float, ...] = field(repr=False)
    temp_c: tuple[float, ...] = field(repr=False)
    big_freq_mhz: tuple[float, ...] = field(repr=False)  # 0 while the big cluster sleeps (little-only)
    power_w: tuple[float, ...] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hw": self.hw, "model": self.model, "policy": self.policy, "duration_s": self.duration_s,
            "rate_hz": self.rate_hz, "background_power_w": self.background_power_w, "throttled": self.throttled,
            "throttle_onset_s": self.throttle_onset_s, "max_temp_c": self.max_temp_c,
            "final_temp_c": self.final_temp_c, "mean_latency_s": self.mean_latency_s,
            "mean_effective_latency_s": self.mean_effective_latency_s, "inferences": self.inferences,
            "frames_missed": self.frames_missed, "average_power_w": self.average_power_w,
            "series": {"time_s": list(self.time_s), "temp_c": list(self.temp_c),
                       "big_freq_mhz": list(self.big_freq_mhz), "power_w": list(self.power_w)},
        }


def little_profile(profile: Any) -> Any:
    """The profile with its LITTLE cluster as the only (host) unit, for costing an inference on it."""
    lc = profile.little_cluster
    if lc is None:
        raise EdgesimError(f"profile '{profile.id}' has no little_cluster (not a big.LITTLE SoC)",
                           field="little_cluster")
    return profile.model_copy(update={"units": [lc], "host_unit": lc.name, "little_cluster": None})


def characterise_little(graph: Graph, profile: Any, runtime: Any = None, version: Any = None) -> OperatingPointResult:
    """One inference on the LITTLE cluster (fixed clock). Dynamic energy only; static power is the chip's."""
    prof = little_profile(profile)
    est = estimate_schedule(build_schedule(graph, prof, runtime, version), prof)
    static_w = prof.power.static_power_mw * 1e-3
    dyn = max(est.energy_j - static_w * est.latency_s, 0.0)
    lc = profile.little_cluster
    return OperatingPointResult(float(lc.clock_mhz), float(profile.dvfs.nominal_voltage_v), est.latency_s, dyn, 0.0)


def _on_fraction(t0: float, t1: float, on_s: float, off_s: float) -> float:
    """Fraction of [t0, t1] inside the 'on' phases of a square wave that starts on at t = 0."""
    period = on_s + off_s

    def on_time_until(t: float) -> float:  # cumulative on-time in [0, t]
        n, r = divmod(t, period)
        return n * on_s + min(r, on_s)

    return (on_time_until(t1) - on_time_until(t0)) / (t1 - t0) if t1 > t0 else 0.0


def run_big_little(
    graph: Graph,
    profile: Any,
    policy: Policy,
    *,
    runtime: Any = None,
    version: Any = None,
    duration_s: float = 600.0,
    rate_hz: float | None = None,
    background_power_w: float = 0.3,
    background_little_share: float = 0.25,
    burst_on_s: float = 5.0,
    burst_off_s: float = 5.0,
    ambient_c: float | None = None,
    window_s: float = 0.5,
    big_points: list[OperatingPointResult] | None = None,
    little_point: OperatingPointResult | None = None,
) -> BigLittleResult:
    """Sustained inference on a big.LITTLE SoC under ``policy`` (performance governor on the big cluster)."""
    if duration_s <= 0 or window_s <= 0:
        raise EdgesimError("duration and window must be positive")
    if rate_hz is not None and rate_hz <= 0:
        raise EdgesimError("rate must be positive")
    if not 0.0 <= background_little_share < 1.0:
        raise EdgesimError(f"background_little_share must be in [0, 1), got {background_little_share}")
    if background_power_w < 0:
        raise EdgesimError(f"background power must be >= 0, got {background_power_w}")
    if policy is Policy.BURST and (burst_on_s <= 0 or burst_off_s < 0):
        raise EdgesimError("burst_on_s must be positive and burst_off_s non-negative")
    little_profile(profile)  # fail early on a profile without a LITTLE cluster
    profile = with_ambient(profile, ambient_c)
    big = {p.freq_mhz: p for p in (big_points or characterise(graph, profile, runtime, version))}
    little = little_point or characterise_little(graph, profile, runtime, version)
    freqs = sorted(big)
    plant = ThermalPlant(profile)
    idle_w = profile.power.idle_power_mw * 1e-3
    leak = leakage_scale(profile)
    # The background load keeps part of the LITTLE cores: inference there gets the rest.
    little_latency_s = little.latency_s / (1.0 - background_little_share)
    steps = int(np.ceil(duration_s / window_s))
    ts: list[float] = []
    temp_series: list[float] = []
    f_series: list[float] = []
    p_series: list[float] = []
    onset: float | None = None
    total_inf = total_missed = total_energy = lat_weighted = 0.0
    t = 0.0
    for _ in range(steps):
        dt = min(window_s, duration_s - t)
        cap = plant.cap_mhz
        allowed = [f for f in freqs if cap is None or f <= cap + 1e-9] or [freqs[0]]
        f = max(allowed)
        if cap is not None and cap < freqs[-1] and onset is None and policy is not Policy.LITTLE_ONLY:
            onset = t
        if policy is Policy.LITTLE_ONLY:
            latency_s, dyn_j, avail = little_latency_s, little.dynamic_energy_j, 1.0
        else:
            op = big[f]
            latency_s, dyn_j = op.latency_s, op.dynamic_energy_j
            avail = _on_fraction(t, t + dt, burst_on_s, burst_off_s) if policy is Policy.BURST else 1.0
        capacity = avail * dt / latency_s
        if rate_hz is None:
            done, missed = capacity, 0.0
        else:
            wanted = rate_hz * dt
            done = min(wanted, capacity)
            missed = wanted - done
        busy_s = done * latency_s
        static_w = big[f].static_power_w
        extra_leak_w = static_w * (leak(plant.power_node_temp_c) - 1.0)  # busy or idle, as in sustain()
        if policy is Policy.LITTLE_ONLY:
            # The big cluster sleeps: the chip draws its idle power plus what the LITTLE inference switches.
            chip_w = idle_w + extra_leak_w
        else:
            big_busy = busy_s / dt
            chip_w = big_busy * static_w + (1.0 - big_busy) * idle_w + extra_leak_w
        power = chip_w + done * dyn_j / dt + background_power_w
        t_sensor = plant.step(power, dt)
        t += dt
        total_inf += done
        total_missed += missed
        total_energy += power * dt
        lat_weighted += done * latency_s
        ts.append(t)
        temp_series.append(t_sensor)
        f_series.append(f if policy is not Policy.LITTLE_ONLY else 0.0)
        p_series.append(power)
    return BigLittleResult(
        hw=profile.id, model=graph.name, policy=policy.value, duration_s=duration_s, rate_hz=rate_hz,
        background_power_w=background_power_w,
        throttled=onset is not None, throttle_onset_s=onset,
        max_temp_c=max(temp_series), final_temp_c=temp_series[-1],
        mean_latency_s=lat_weighted / total_inf if total_inf else 0.0,
        mean_effective_latency_s=duration_s / total_inf if total_inf else float("inf"),
        inferences=total_inf, frames_missed=total_missed, average_power_w=total_energy / duration_s,
        time_s=tuple(ts), temp_c=tuple(temp_series), big_freq_mhz=tuple(f_series), power_w=tuple(p_series),
    )


def compare_policies(graph: Graph, profile: Any, *, runtime: Any = None, version: Any = None,
                     **kw: Any) -> dict[str, BigLittleResult]:
    """All three policies on the same model and profile, characterising each cluster once."""
    big_points = characterise(graph, profile, runtime, version)
    little_point = characterise_little(graph, profile, runtime, version)
    return {p.value: run_big_little(graph, profile, p, runtime=runtime, version=version, big_points=big_points,
                                    little_point=little_point, **kw) for p in Policy}
