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

from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
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
from edgesim.thermal.sustain import characterise


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


def little_profile(profile: HardwareProfile) -> HardwareProfile:
    """The profile with its LITTLE cluster as the only (host) unit, for costing an inference on it."""
    lc = profile.little_cluster
    if lc is None:
        raise EdgesimError(f"profile '{profile.id}' has no little_cluster (not a big.LITTLE SoC)",
                           field="little_cluster")
    return profile.model_copy(update={"units": [lc], "host_unit": lc.name, "little_cluster": None})


def characterise_little(base: RunResult) -> OperatingPointResult:
    """One inference of ``base`` on the LITTLE cluster (fixed clock). Dynamic energy only; static power is the
    chip's."""
    prof = little_profile(base.profile)
    est = run_on(base, prof).estimate
    static_w = prof.power.static_power_w
    dyn = max(est.energy_j - static_w * est.latency_s, 0.0)
    lc = base.profile.little_cluster
    assert lc is not None and lc.clock_mhz is not None
    return OperatingPointResult(float(lc.clock_mhz), float(base.profile.dvfs.nominal_voltage_v), est.latency_s,
                                dyn, 0.0)


def _on_fraction(t0: float, t1: float, on_s: float, off_s: float) -> float:
    """Fraction of [t0, t1] inside the 'on' phases of a square wave that starts on at t = 0."""
    period = on_s + off_s

    def on_time_until(t: float) -> float:  # cumulative on-time in [0, t]
        n, r = divmod(t, period)
        return n * on_s + min(r, on_s)

    return (on_time_until(t1) - on_time_until(t0)) / (t1 - t0) if t1 > t0 else 0.0


class BigLittlePolicy(WindowPolicy):
    """Inference on the big cluster (performance governor), on the LITTLE cores beside a background load, or in
    bursts on the big cluster; the background load always runs on the LITTLE cores."""

    def __init__(self, policy: Policy, big: list[OperatingPointResult], little: OperatingPointResult,
                 background_power_w: float, background_little_share: float, burst_on_s: float,
                 burst_off_s: float) -> None:
        self.policy = policy
        self.big = {p.freq_mhz: p for p in big}
        self.freqs = sorted(self.big)
        # The background load keeps part of the LITTLE cores: inference there gets the rest.
        self.little = OperatingPointResult(little.freq_mhz, little.voltage_v,
                                           little.latency_s / (1.0 - background_little_share),
                                           little.dynamic_energy_j, little.static_power_w)
        self.background_power_w = background_power_w
        self.burst_on_s, self.burst_off_s = burst_on_s, burst_off_s

    def work(self, t_s: float, dt_s: float, cap_mhz: float | None) -> WindowWork:
        latencies = {f: p.latency_s for f, p in self.big.items()}
        f = choose_frequency(GovernorKind.PERFORMANCE, self.freqs, latencies, None, cap_mhz)
        static_w = self.big[f].static_power_w
        if self.policy is Policy.LITTLE_ONLY:
            return WindowWork(0.0, self.little, static_w)
        avail = (_on_fraction(t_s, t_s + dt_s, self.burst_on_s, self.burst_off_s)
                 if self.policy is Policy.BURST else 1.0)
        return WindowWork(f, self.big[f], static_w, avail, cap_mhz is not None and cap_mhz < self.freqs[-1])

    def chip_power_w(self, w: WindowWork, busy: float, idle_w: float, extra_leak_w: float) -> float:
        if self.policy is Policy.LITTLE_ONLY:
            # The big cluster sleeps: the chip draws its idle power plus what the LITTLE inference switches.
            return idle_w + extra_leak_w
        return super().chip_power_w(w, busy, idle_w, extra_leak_w)


def run_big_little(
    base: RunResult,
    policy: Policy,
    *,
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
    """Sustained inference of ``base`` (a pipeline run) on a big.LITTLE SoC under ``policy``."""
    check_sustain_arguments(duration_s, rate_hz, window_s)
    if not 0.0 <= background_little_share < 1.0:
        raise EdgesimError(f"background_little_share must be in [0, 1), got {background_little_share}")
    if not 0 <= background_power_w < float("inf"):
        raise EdgesimError(f"background power must be >= 0 and finite, got {background_power_w}")
    if policy is Policy.BURST and not (0 < burst_on_s < float("inf") and 0 <= burst_off_s < float("inf")):
        raise EdgesimError("burst_on_s must be positive and burst_off_s non-negative (both finite)")
    little_profile(base.profile)  # fail early on a profile without a LITTLE cluster
    profile = with_ambient(base.profile, ambient_c)
    pol = BigLittlePolicy(policy, big_points or characterise(base), little_point or characterise_little(base),
                          background_power_w, background_little_share, burst_on_s, burst_off_s)
    w = run_windows(profile, pol, duration_s, rate_hz, window_s)
    return BigLittleResult(
        hw=profile.id, model=base.graph.name, policy=policy.value, duration_s=duration_s, rate_hz=rate_hz,
        background_power_w=background_power_w,
        throttled=w.throttle_onset_s is not None, throttle_onset_s=w.throttle_onset_s,
        max_temp_c=max(w.temp_c), final_temp_c=w.temp_c[-1], mean_latency_s=w.mean_latency_s,
        mean_effective_latency_s=duration_s / w.inferences if w.inferences else float("inf"),
        inferences=w.inferences, frames_missed=w.frames_missed, average_power_w=w.energy_j / duration_s,
        time_s=w.time_s, temp_c=w.temp_c, big_freq_mhz=w.freq_mhz, power_w=w.power_w,
    )


def compare_policies(base: RunResult, **kw: Any) -> dict[str, BigLittleResult]:
    """All three policies on the same run, characterising each cluster once."""
    big_points = characterise(base)
    little_point = characterise_little(base)
    return {p.value: run_big_little(base, p, big_points=big_points, little_point=little_point, **kw)
            for p in Policy}
