"""The one thermal stepping loop: windows of constant power through the RC plant, for every placement policy.

A policy (single cluster under a DVFS governor, or a big.LITTLE placement) is a subclass of ``WindowPolicy`` with
two hooks: ``work`` says which clock and cost an inference has in the next window and how much of the window the
cluster may run, ``chip_power_w`` what the chip draws around the inferences. The loop does the rest (work done,
frames missed, leakage, the plant step, the series) the same way for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
from edgesim.thermal.plant import ThermalPlant

# A bound on thermal steps so a typo (--window 1e-9) fails fast instead of running for days.
MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class OperatingPointResult:
    """One inference at one clock: latency, dynamic energy (without static power), the static power."""

    freq_mhz: float
    voltage_v: float
    latency_s: float
    dynamic_energy_j: float
    static_power_w: float


@dataclass(frozen=True)
class WindowWork:
    """What a policy runs in one window."""

    freq_mhz: float  # the clock reported for the window (0 while the cluster that is tracked sleeps)
    point: OperatingPointResult  # cost of one inference where it runs
    static_power_w: float  # the busy chip's static power at this window's operating point
    available: float = 1.0  # fraction of the window the inference may use (burst gaps)
    throttled: bool = False  # the thermal cap binds this window (throttle onset)
    # The policy ends the window early, after this many seconds, and is asked again for the rest of it: a chat
    # turn's phases (prefill, decode, think) end mid-window and the next one draws a different power. None = the
    # whole window.
    window_s: float | None = None


class WindowPolicy:
    """Declared hooks of a sustained-run placement policy (override ``work``; ``chip_power_w`` optionally)."""

    background_power_w: float = 0.0

    def work(self, t_s: float, dt_s: float, cap_mhz: float | None) -> WindowWork:
        raise NotImplementedError

    def chip_power_w(self, w: WindowWork, busy: float, idle_w: float, extra_leak_w: float) -> float:
        """Static power is the busy chip's floor and idle power the idle chip's total, so each holds for its share
        of the window (charging both while idle would count the idle chip's leakage twice). Leakage growth with
        temperature (``extra_leak_w``) holds busy or idle."""
        return busy * w.static_power_w + (1.0 - busy) * idle_w + extra_leak_w


@dataclass(frozen=True)
class WindowSeries:
    """The loop's per-window series and totals."""

    time_s: tuple[float, ...]
    temp_c: tuple[float, ...]
    freq_mhz: tuple[float, ...]
    latency_s: tuple[float, ...]
    power_w: tuple[float, ...]
    energy_per_inference_j: tuple[float, ...]
    fan_pct: tuple[float, ...]
    throttle_onset_s: float | None
    inferences: float
    frames_missed: float
    energy_j: float
    busy_latency_weighted_s: float  # sum of inferences x their latency

    @property
    def mean_latency_s(self) -> float:
        return self.busy_latency_weighted_s / self.inferences if self.inferences else 0.0


def check_run_arguments(duration_s: float, rate_hz: float | None, window_s: float) -> None:
    """One line per bad argument ('not 0 < x < inf' also refuses nan; inf would never finish)."""
    if not 0 < duration_s < math.inf:
        raise EdgesimError(f"--duration must be positive and finite, got {duration_s}")
    if rate_hz is not None and not 0 < rate_hz < math.inf:
        raise EdgesimError(f"--rate must be positive and finite, got {rate_hz}")
    if not 0 < window_s < math.inf:
        raise EdgesimError(f"--window must be positive and finite, got {window_s}")
    if duration_s / window_s > MAX_STEPS:
        raise EdgesimError(f"--duration {duration_s:g} s in --window {window_s:g} s steps is more than "
                           f"{MAX_STEPS:.0e} steps; use a longer window")


def check_sustain_arguments(duration_s: float, rate_hz: float | None, window_s: float) -> None:
    """check_run_arguments, and a thermal step no longer than the run: a window past the duration makes the whole
    run one step of the RC network, its heating and throttling unresolved (answered without a word before)."""
    check_run_arguments(duration_s, rate_hz, window_s)
    if window_s > duration_s:
        raise EdgesimError(f"--window {window_s:g} s is longer than --duration {duration_s:g} s: the run would be "
                           "one thermal step; use a window of at most the duration", field="window")


def leakage_scale(profile: HardwareProfile) -> Callable[[float], float]:
    """Factor on static power at a die temperature (``PowerSpec.leakage_factor_at``)."""
    return profile.power.leakage_factor_at


@dataclass
class _Totals:
    """Running series and totals of one run (the loop appends one entry per window or window part)."""

    ts: list[float]
    temps: list[float]
    freqs: list[float]
    lats: list[float]
    powers: list[float]
    energies: list[float]
    fans: list[float]
    onset: float | None = None
    inferences: float = 0.0
    missed: float = 0.0
    energy_j: float = 0.0
    lat_weighted: float = 0.0


def _step(plant: ThermalPlant, policy: WindowPolicy, w: WindowWork, t: float, dt: float, rate_hz: float | None,
          idle_w: float, leak: Callable[[float], float], acc: _Totals) -> None:
    """One window (or window part) of ``dt`` seconds at constant power through the plant."""
    if w.throttled and acc.onset is None:
        acc.onset = t
    op = w.point
    capacity = w.available * dt / op.latency_s
    if rate_hz is None:
        done, missed = capacity, 0.0
    else:
        wanted = rate_hz * dt
        done = min(wanted, capacity)
        missed = wanted - done
    busy = min(1.0, done * op.latency_s / dt)
    extra_leak_w = w.static_power_w * (leak(plant.power_node_temp_c) - 1.0)
    power = (policy.chip_power_w(w, busy, idle_w, extra_leak_w) + done * op.dynamic_energy_j / dt
             + policy.background_power_w)
    acc.temps.append(plant.step(power, dt))
    acc.inferences += done
    acc.missed += missed
    acc.energy_j += power * dt
    acc.lat_weighted += done * op.latency_s
    acc.ts.append(t + dt)
    acc.freqs.append(w.freq_mhz)
    acc.lats.append(op.latency_s)
    acc.powers.append(power)
    acc.energies.append(op.dynamic_energy_j + (w.static_power_w + extra_leak_w) * op.latency_s)
    acc.fans.append(plant.fan_pct)


def run_windows(profile: HardwareProfile, policy: WindowPolicy, duration_s: float, rate_hz: float | None,
                window_s: float) -> WindowSeries:
    """Step ``policy`` through ``duration_s`` seconds in ``window_s`` windows, back to back (``rate_hz`` None) or
    at ``rate_hz`` inferences per second. A policy that ends a window early (``WindowWork.window_s``) is asked
    again for the rest of it."""
    check_run_arguments(duration_s, rate_hz, window_s)
    plant = ThermalPlant(profile)
    idle_w = profile.power.idle_power_mw * 1e-3
    leak = leakage_scale(profile)
    acc = _Totals([], [], [], [], [], [], [])
    t = 0.0
    parts = 0
    for _ in range(math.ceil(duration_s / window_s)):
        left = min(window_s, duration_s - t)
        first = True  # every window runs at least once, exactly as before policies could cut windows
        while first or left > 1e-12 * window_s:
            first = False
            w = policy.work(t, left, plant.cap_mhz)
            if w.window_s is not None and not w.window_s > 0:
                raise EdgesimError(f"a thermal policy ended a window after {w.window_s} s; it must be > 0")
            dt = left if w.window_s is None else min(left, w.window_s)
            parts += 1
            if parts > MAX_STEPS:
                raise EdgesimError(f"more than {MAX_STEPS:.0e} thermal steps (windows cut by short phases); "
                                   "use longer phases or a longer window")
            _step(plant, policy, w, t, dt, rate_hz, idle_w, leak, acc)
            t += dt
            left -= dt
    return WindowSeries(tuple(acc.ts), tuple(acc.temps), tuple(acc.freqs), tuple(acc.lats), tuple(acc.powers),
                        tuple(acc.energies), tuple(acc.fans), acc.onset, acc.inferences, acc.missed, acc.energy_j,
                        acc.lat_weighted)
