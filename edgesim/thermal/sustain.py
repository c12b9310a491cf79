"""Minutes to hours of sustained inference on two time scales.

One inference is estimated once per DVFS operating point and reused; the thermal RC network (exact exponential
integration), the fan and the governor then step on windows of ``window_s`` seconds, each window drawing the average
power of the inferences it holds. Thermal time constants are seconds to minutes, so averaging power over sub-second
windows loses nothing visible, and an hour of simulated time is a few thousand steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edgesim.cost.analytic import voltage_at
from edgesim.errors import EdgesimError
from edgesim.pipeline import RunResult, run_on
from edgesim.thermal.governor import GovernorKind, choose_frequency
from edgesim.thermal.loop import (
    OperatingPointResult,
    WindowPolicy,
    WindowWork,
    check_sustain_arguments,
    run_windows,
)
from edgesim.thermal.plant import with_ambient


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


def characterise(base: RunResult) -> list[OperatingPointResult]:
    """One estimate per DVFS operating point of ``base``'s profile (the multi-timescale cache), through the driver:
    the same model, transformations and runtime as ``base``."""
    profile = base.profile
    points = sorted({p.freq_mhz for p in profile.dvfs.operating_points} | {profile.clock_mhz})
    points = [f for f in points if f <= max(p.freq_mhz for p in profile.dvfs.operating_points) + 1e-9]
    out = []
    for f in points:
        prof_f = profile.with_clock(f)
        est = run_on(base, prof_f).estimate
        static_w = prof_f.power.static_power_w
        dyn = max(est.energy_j - static_w * est.latency_s, 0.0)
        out.append(OperatingPointResult(f, voltage_at(prof_f, f), est.latency_s, dyn, static_w))
    return out


class GovernorPolicy(WindowPolicy):
    """One cluster, its clock chosen by a DVFS governor under the thermal cap."""

    def __init__(self, points: list[OperatingPointResult], governor: GovernorKind, rate_hz: float | None) -> None:
        self.by_f = {p.freq_mhz: p for p in points}
        self.freqs = sorted(self.by_f)
        self.latency_s = {f: self.by_f[f].latency_s for f in self.freqs}
        self.governor = governor
        self.period_s = 1.0 / rate_hz if rate_hz else None

    def work(self, t_s: float, dt_s: float, cap_mhz: float | None) -> WindowWork:
        f = choose_frequency(self.governor, self.freqs, self.latency_s, self.period_s, cap_mhz)
        op = self.by_f[f]
        return WindowWork(f, op, op.static_power_w, throttled=cap_mhz is not None and cap_mhz < self.freqs[-1])


def sustain(
    base: RunResult,
    *,
    duration_s: float = 600.0,
    rate_hz: float | None = None,
    ambient_c: float | None = None,
    governor: GovernorKind = GovernorKind.PERFORMANCE,
    window_s: float = 0.5,
    points: list[OperatingPointResult] | None = None,
) -> SustainResult:
    """Run ``base`` (a pipeline run: model, profile, runtime) back to back (``rate_hz`` None) or at ``rate_hz``
    for ``duration_s`` seconds; ``points`` reuses a ``characterise(base)``."""
    check_sustain_arguments(duration_s, rate_hz, window_s)
    profile = with_ambient(base.profile, ambient_c)
    policy = GovernorPolicy(points or characterise(base), governor, rate_hz)
    w = run_windows(profile, policy, duration_s, rate_hz, window_s)
    return SustainResult(
        hw=profile.id, model=base.graph.name, duration_s=duration_s, rate_hz=rate_hz, governor=governor.value,
        ambient_c=profile.thermal.ambient_c, throttled=w.throttle_onset_s is not None,
        throttle_onset_s=w.throttle_onset_s, max_temp_c=max(w.temp_c), final_temp_c=w.temp_c[-1],
        mean_latency_s=w.mean_latency_s, energy_per_inference_j=float(np.mean(w.energy_per_inference_j)),
        inferences=w.inferences, frames_missed=w.frames_missed, average_power_w=w.energy_j / duration_s,
        time_s=w.time_s, temp_c=w.temp_c, freq_mhz=w.freq_mhz, latency_s=w.latency_s, power_w=w.power_w,
        energy_per_inference_series_j=w.energy_per_inference_j, fan_pct=w.fan_pct,
    )


def scaled_point(p: OperatingPointResult, k: float) -> OperatingPointResult:
    """The operating point drawing ``k`` times the power (dynamic energy and static power), as fast."""
    return replace(p, dynamic_energy_j=p.dynamic_energy_j * k, static_power_w=p.static_power_w * k)


def throttle_onset_interval(base: RunResult, power_ratio: tuple[float, float], points: list[OperatingPointResult],
                            *, duration_s: float, rate_hz: float | None, ambient_c: float | None,
                            governor: GovernorKind, window_s: float) -> tuple[float | None, float | None]:
    """(earliest, latest) throttle onset in seconds when the chip draws ``power_ratio`` (lo, hi) times the power
    predicted: the same sustained run with every operating point's dynamic energy and static power scaled by the
    high end (hotter: the earliest onset) and by the low end (the latest; None: no throttling within the run).
    Power, not latency, heats the die, so the latency error enters only through the power interval (energy /
    latency of one inference). The thermal network's own error (its R and C) is not in it."""

    def onset(k: float) -> float | None:
        return sustain(base, duration_s=duration_s, rate_hz=rate_hz, ambient_c=ambient_c, governor=governor,
                       window_s=window_s, points=[scaled_point(p, k) for p in points]).throttle_onset_s

    lo, hi = power_ratio
    return onset(hi), onset(lo)


@dataclass(frozen=True)
class BatteryLife:
    """Duty-cycled battery life and the assumptions it follows from: each period of 1/rate runs one inference
    (its energy) and sleeps the rest at the profile's sleep power, so hours = capacity / average power."""

    capacity_j: float
    average_power_w: float
    hours: float
    inferences_per_charge: float
    period_s: float = 0.0
    active_s: float = 0.0  # one inference
    energy_per_inference_j: float = 0.0
    sleep_power_w: float = 0.0  # between inferences (PowerSpec.sleep_power_mw)

    @property
    def duty_cycle(self) -> float:
        return self.active_s / self.period_s if self.period_s > 0 else 0.0

    def explain(self) -> str:
        """The battery line: every number the hours follow from."""
        from edgesim.report.units import si

        sleep_s = self.period_s - self.active_s
        return (f"battery {self.capacity_j / 3600:.3g} Wh: one inference ({si(self.energy_per_inference_j, 'J')} in "
                f"{si(self.active_s, 's')}) every {si(self.period_s, 's')} (duty cycle {self.duty_cycle:.3%}), "
                f"asleep at {si(self.sleep_power_w, 'W')} for the other {si(sleep_s, 's')}: average "
                f"{si(self.average_power_w, 'W')} -> {self.hours:.4g} h, {self.inferences_per_charge:.3g} "
                f"inferences per charge")


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
    return BatteryLife(cap_j, avg, cap_j / avg / 3600.0, cap_j / energy_per_period, period, latency_s,
                       energy_per_inference_j, sleep_power_w)
