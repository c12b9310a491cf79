"""A chat session on the thermal clock: prompt (prefill), answer (decode), think time, repeated.

Each phase is costed once per DVFS operating point (edgesim.llm.predict on the profile at that clock). The session
runs on the one thermal loop ``sustain`` uses (edgesim.thermal.loop.run_windows) through ``ChatPolicy``: each
window's phase and clock give its power (leakage growing with temperature included, as in sustain), the trip
points cap the clock for the next window, and a window is cut where a phase ends so prefill, decode and idle power
never blend. A bare Raspberry Pi 5 that heats past 80 C answers more slowly later in the session; decode is mostly
memory-bound, so throttling hurts prefill (compute) more than tokens/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edgesim.cost.analytic import voltage_at
from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
from edgesim.llm.intervals import novelty_of, phase_bounds
from edgesim.llm.predict import LlmEstimate, _profile, predict
from edgesim.pipeline.intervals import Interval, check_confidence
from edgesim.thermal.loop import OperatingPointResult, WindowPolicy, WindowWork, run_windows
from edgesim.thermal.plant import with_ambient


@dataclass(frozen=True)
class _Point:
    freq_mhz: float
    prefill_s: float
    prefill_w: float
    decode_s: float
    decode_w: float


@dataclass(frozen=True)
class ChatInterval:
    """The chat's answers at a confidence: each turn's decode tokens/s and TTFT carry the same calibrated model
    error as a single ``edgesim llm`` estimate of the board and runtime (``edgesim.llm.intervals``)."""

    confidence: float
    novelty: str
    first_turn_decode_tps: Interval
    last_turn_decode_tps: Interval
    first_turn_ttft_s: Interval
    last_turn_ttft_s: Interval

    def as_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "novelty_class": self.novelty,
                "first_turn_decode_tps_interval": self.first_turn_decode_tps.as_list(),
                "last_turn_decode_tps_interval": self.last_turn_decode_tps.as_list(),
                "first_turn_ttft_interval_s": self.first_turn_ttft_s.as_list(),
                "last_turn_ttft_interval_s": self.last_turn_ttft_s.as_list()}

    def summary(self) -> str:
        d0, d1, t0, t1 = (self.first_turn_decode_tps, self.last_turn_decode_tps, self.first_turn_ttft_s,
                          self.last_turn_ttft_s)
        return (f"interval ({self.confidence:.0%}, {self.novelty}): decode {d0.lo:.3g}-{d0.hi:.3g} -> "
                f"{d1.lo:.3g}-{d1.hi:.3g} tokens/s, TTFT {t0.lo:.3g}-{t0.hi:.3g} -> {t1.lo:.3g}-{t1.hi:.3g} s")


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
    interval: ChatInterval | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"hw": self.hw, "model": self.model, "duration_s": self.duration_s, "turns": self.turns,
                "throttled": self.throttled, "throttle_onset_s": self.throttle_onset_s,
                "max_temp_c": self.max_temp_c, "first_turn_decode_tps": self.first_turn_decode_tps,
                "last_turn_decode_tps": self.last_turn_decode_tps, "first_turn_ttft_s": self.first_turn_ttft_s,
                "last_turn_ttft_s": self.last_turn_ttft_s, "energy_j": self.energy_j,
                "series": {"time_s": list(self.time_s), "temp_c": list(self.temp_c),
                           "freq_mhz": list(self.freq_mhz), "power_w": list(self.power_w)}} | (
            {} if self.interval is None else {"interval": self.interval.as_dict()})


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


def _points(model: str, profile: HardwareProfile, prompt: int, gen: int, **kw: Any
            ) -> tuple[dict[float, _Point], str]:
    """Each operating point's phase times and powers, and the runtime id the estimates were made with."""
    top = max(p.freq_mhz for p in profile.dvfs.operating_points)
    freqs = sorted({p.freq_mhz for p in profile.dvfs.operating_points} | {profile.clock_mhz})
    out, runtime = {}, ""
    for f in (f for f in freqs if f <= top + 1e-9):
        prof_f = profile.with_clock(f)
        est = predict(model, prof_f, prompt=prompt, gen=gen, **kw)
        out[f] = _Point(f, *_phase_power(est, prof_f, f))
        runtime = est.runtime
    return out, runtime


def _interval(hw: str, runtime: str, stats: list[tuple[float, float]], confidence: float) -> ChatInterval:
    cls = novelty_of(hw, runtime)
    pre, dec = phase_bounds("prefill", cls, confidence), phase_bounds("decode", cls, confidence)
    (ttft0, tps0), (ttft1, tps1) = stats[0], stats[-1]
    return ChatInterval(confidence, cls, dec.rate(tps0), dec.rate(tps1), pre.time(ttft0), pre.time(ttft1))


class ChatPolicy(WindowPolicy):
    """Turns of (prefill, decode, think) under the thermal cap. Progress is kept as the fraction of the current
    phase's work done, so a trip point that engages in the middle of a long prefill slows only the rest of it."""

    def __init__(self, pts: dict[float, _Point], static_w: float, think_s: float, gen: int) -> None:
        self.pts, self.freqs, self.static_w = pts, sorted(pts), static_w
        self.think_s, self.gen = think_s, gen
        self.phase, self.left, self.elapsed, self.ttft = 2, 0.0, 0.0, 0.0  # start as if a think phase just ended
        self.turn_stats: list[tuple[float, float]] = []  # (TTFT, decode tokens/s) of each completed answer
        self._last: tuple[float, float] | None = None  # (phase length, seconds) of the window handed out last

    def _advance(self) -> None:
        """Account the last window, and move to the next phase once the current one is done."""
        if self._last is not None:
            length, dt = self._last
            self.elapsed += dt
            self.left -= dt / length
        while self.left <= 1e-12:
            if self.phase == 0:
                self.ttft = self.elapsed
            elif self.phase == 1:
                self.turn_stats.append((self.ttft, self.gen / self.elapsed))
            self.phase, self.left, self.elapsed = (self.phase + 1) % 3, 1.0, 0.0
            if self.phase == 2 and self.think_s == 0:
                self.left = 0.0

    def work(self, t_s: float, dt_s: float, cap_mhz: float | None) -> WindowWork:
        self._advance()
        f = max([x for x in self.freqs if cap_mhz is None or x <= cap_mhz + 1e-9] or [self.freqs[0]])
        cur = self.pts[f]
        length, watts = ((cur.prefill_s, cur.prefill_w), (cur.decode_s, cur.decode_w), (self.think_s, 0.0))[
            self.phase]
        dt = min(dt_s, self.left * length)
        self._last = (length, dt)
        throttled = cap_mhz is not None and cap_mhz < self.freqs[-1]
        if self.phase == 2:  # thinking: the chip idles (no work in the window), its leakage still follows the die
            idle = OperatingPointResult(f, 0.0, length, 0.0, self.static_w)
            return WindowWork(f, idle, self.static_w, available=0.0, throttled=throttled, window_s=dt)
        # the phase runs back to back: one 'inference' is the whole phase, its dynamic energy spread over it
        op = OperatingPointResult(f, 0.0, length, (watts - self.static_w) * length, self.static_w)
        return WindowWork(f, op, self.static_w, throttled=throttled, window_s=dt)


def chat_session(model: str, hw: str | HardwareProfile, duration_s: float = 600.0, prompt: int = 256,
                 gen: int = 256, think_s: float = 20.0, ambient_c: float | None = None, window_s: float = 1.0,
                 confidence: float = 0.8, **kw: Any) -> ChatResult:
    """Turns of (prefill ``prompt``, decode ``gen``, idle ``think_s``) for ``duration_s`` seconds, with the
    first and last answers' tokens/s and TTFT intervals at ``confidence``."""
    check_confidence(confidence)
    if not 0 < duration_s < math.inf or not 0 < window_s < math.inf or not 0 <= think_s < math.inf:
        raise EdgesimError("chat duration, window and think time must be positive and finite", field="chat")
    if duration_s / window_s > 2_000_000:
        # (`edgesim llm` has no window flag: name the duration, which the user gave, and the API's window_s)
        raise EdgesimError(f"a {duration_s:g} s chat is more than 2,000,000 thermal windows of {window_s:g} s; "
                           "shorten --chat-session (API: or lengthen window_s)", field="chat")
    profile = with_ambient(_profile(hw), ambient_c)
    pts, runtime = _points(model, profile, prompt, gen, **kw)
    pol = ChatPolicy(pts, profile.power.static_power_mw * 1e-3, think_s, gen)
    w = run_windows(profile, pol, duration_s, None, window_s)
    if not pol.turn_stats:
        raise EdgesimError(f"no answer completed in {duration_s:g} s; lengthen --chat-session", field="chat")
    first, last = pol.turn_stats[0], pol.turn_stats[-1]
    return ChatResult(profile.id, model, duration_s, len(pol.turn_stats), w.throttle_onset_s is not None,
                      w.throttle_onset_s, max(w.temp_c), first[1], last[1], first[0], last[0], w.energy_j,
                      w.time_s, w.temp_c, w.freq_mhz, w.power_w,
                      _interval(profile.id, runtime, pol.turn_stats, confidence))
