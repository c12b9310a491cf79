"""A chat session on the thermal clock: prompt (prefill), answer (decode), think time, repeated.

Each phase is costed once per DVFS operating point (edgesim.llm.predict on the profile at that clock) and its
average power drives edgesim.thermal.plant.ThermalPlant; the trip points cap the clock for the next phase, so a
bare Raspberry Pi 5 that heats past 80 C answers more slowly later in the session. Decode is mostly memory-bound,
so throttling hurts prefill (compute) more than tokens/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edgesim.cost.analytic import voltage_at
from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
from edgesim.llm.predict import LlmEstimate, _profile, predict
from edgesim.thermal.plant import ThermalPlant, with_ambient


@dataclass(frozen=True)
class _Point:
    freq_mhz: float
    prefill_s: float
    prefill_w: float
    decode_s: float
    decode_w: float


@dataclass(frozen=True)
class ChatResult:
    hw: str
    model: str
    duration_s: float
    turns: int
    throttled: bool
    throttle_onset_s: float | None
    max_temp_c: float
    first_turn_decode_tps: float
    last_turn_decode_tps: float
    first_turn_ttft_s: float
    last_turn_ttft_s: float
    energy_j: float
    time_s: tuple[float, ...] = field(repr=False)
    temp_c: tuple[float, ...] = field(repr=False)
    freq_mhz: tuple[float, ...] = field(repr=False)
    power_w: tuple[float, ...] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"hw": self.hw, "model": self.model, "duration_s": self.duration_s, "turns": self.turns,
                "throttled": self.throttled, "throttle_onset_s": self.throttle_onset_s,
                "max_temp_c": self.max_temp_c, "first_turn_decode_tps": self.first_turn_decode_tps,
                "last_turn_decode_tps": self.last_turn_decode_tps, "first_turn_ttft_s": self.first_turn_ttft_s,
                "last_turn_ttft_s": self.last_turn_ttft_s, "energy_j": self.energy_j,
                "series": {"time_s": list(self.time_s), "temp_c": list(self.temp_c),
                           "freq_mhz": list(self.freq_mhz), "power_w": list(self.power_w)}}


def _phase_power(est: LlmEstimate, profile: HardwareProfile, f: float) -> tuple[float, float, float, float]:
    if est.prefill is None or est.decode is None:
        raise EdgesimError(est.fit_reason if not est.fits else "chat needs prompt > 0 and gen > 0", field="chat")
    # dynamic energy scales with V^2 at the operating point; static power does not
    scale = (voltage_at(profile, f) / profile.dvfs.nominal_voltage_v) ** 2
    static = profile.power.static_power_w  # with the board-power factor, as machine.py's static_power_w

    def watts(e: float, t: float) -> float:
        return static + max(e - static * t, 0.0) * scale / t

    return est.prefill.time_s, watts(est.prefill.energy_j, est.prefill.time_s), est.decode.time_s, \
        watts(est.decode.energy_j, est.decode.time_s)


def _points(model: str, profile: HardwareProfile, prompt: int, gen: int, **kw: Any) -> dict[float, _Point]:
    top = max(p.freq_mhz for p in profile.dvfs.operating_points)
    freqs = sorted({p.freq_mhz for p in profile.dvfs.operating_points} | {profile.clock_mhz})
    out = {}
    for f in (f for f in freqs if f <= top + 1e-9):
        prof_f = profile.with_clock(f)
        est = predict(model, prof_f, prompt=prompt, gen=gen, **kw)
        out[f] = _Point(f, *_phase_power(est, prof_f, f))
    return out


def chat_session(model: str, hw: str | HardwareProfile, duration_s: float = 600.0, prompt: int = 256,
                 gen: int = 256, think_s: float = 20.0, ambient_c: float | None = None, window_s: float = 1.0,
                 **kw: Any) -> ChatResult:
    """Turns of (prefill ``prompt``, decode ``gen``, idle ``think_s``) for ``duration_s`` seconds."""
    if not 0 < duration_s < math.inf or not 0 < window_s < math.inf or not 0 <= think_s < math.inf:
        raise EdgesimError("chat duration, window and think time must be positive and finite", field="chat")
    if duration_s / window_s > 2_000_000:
        raise EdgesimError("chat session too long for its window; use a longer --window", field="chat")
    profile = with_ambient(_profile(hw), ambient_c)
    pts = _points(model, profile, prompt, gen, **kw)
    freqs = sorted(pts)
    plant = ThermalPlant(profile)
    idle_w = profile.power.idle_power_mw * 1e-3
    series: dict[str, list[float]] = {"t": [], "T": [], "f": [], "p": []}
    t, energy, onset, turns = 0.0, 0.0, None, 0
    turn_stats: list[tuple[float, float]] = []  # (TTFT, decode tokens/s) of each completed answer
    # The governor re-decides every window, so a trip point that engages in the middle of a long prefill slows the
    # rest of it: progress is tracked as the fraction of the phase's work done, not its remaining seconds.
    phase, left, elapsed, ttft = 2, 0.0, 0.0, 0.0
    while t < duration_s - 1e-12:
        if left <= 1e-12:
            if phase == 0:
                ttft = elapsed
            elif phase == 1:
                turn_stats.append((ttft, gen / elapsed))
                turns += 1
            phase, left, elapsed = (phase + 1) % 3, 1.0, 0.0
            if phase == 2 and think_s == 0:
                left = 0.0
            continue
        cap = plant.cap_mhz
        f = max([x for x in freqs if cap is None or x <= cap + 1e-9] or [freqs[0]])
        if cap is not None and onset is None and cap < freqs[-1]:
            onset = t
        cur = pts[f]
        length = (cur.prefill_s, cur.decode_s, think_s)[phase]
        power = (cur.prefill_w, cur.decode_w, idle_w)[phase]
        dt = min(window_s, left * length, duration_s - t)
        temp = plant.step(power, dt)
        t += dt
        elapsed += dt
        left -= dt / length
        energy += power * dt
        series["t"].append(t)
        series["T"].append(temp)
        series["f"].append(cur.freq_mhz)
        series["p"].append(power)
    if not turn_stats:
        raise EdgesimError(f"no answer completed in {duration_s:g} s; lengthen --chat-session", field="chat")
    first, last = turn_stats[0], turn_stats[-1]
    return ChatResult(profile.id, model, duration_s, turns, onset is not None, onset, max(series["T"]), first[1],
                      last[1], first[0], last[0], energy, tuple(series["t"]), tuple(series["T"]),
                      tuple(series["f"]), tuple(series["p"]))
