"""DVFS governors and the thermal throttle, stepping on the slow (thermal) clock."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class GovernorKind(Enum):
    PERFORMANCE = "performance"
    POWERSAVE = "powersave"
    ONDEMAND = "ondemand"


@dataclass(frozen=True)
class TripState:
    """Which trip points are engaged (hysteresis needs the previous state)."""

    engaged: tuple[bool, ...]


class ThermalThrottle:
    """Trip points with hysteresis: above ``temp_c`` the clock is capped at ``max_freq_mhz`` until the sensor
    falls below ``temp_c - hysteresis_c``. Several points give a progressive throttle (the Raspberry Pi's 80-85 C)."""

    def __init__(self, trip_points: Any) -> None:
        self.points = sorted(trip_points, key=lambda t: t.temp_c)

    def initial(self) -> TripState:
        return TripState(tuple(False for _ in self.points))

    def update(self, state: TripState, temp_c: float) -> TripState:
        engaged = []
        for p, was in zip(self.points, state.engaged, strict=True):
            if was:
                engaged.append(temp_c > p.temp_c - p.hysteresis_c)
            else:
                engaged.append(temp_c >= p.temp_c)
        return TripState(tuple(engaged))

    def cap_mhz(self, state: TripState) -> float | None:
        caps = [p.max_freq_mhz for p, on in zip(self.points, state.engaged, strict=True) if on]
        return min(caps) if caps else None


class FanController:
    """Fan steps with hysteresis; each step scales one link's resistance (sink to air)."""

    def __init__(self, steps: Any, hysteresis_c: float | None) -> None:
        self.steps = sorted(steps, key=lambda s: s.temp_c)
        self.hysteresis_c = hysteresis_c or 0.0

    def update(self, level: int, temp_c: float) -> int:
        """Index of the active step (-1 = fan off)."""
        new = level
        while new + 1 < len(self.steps) and temp_c >= self.steps[new + 1].temp_c:
            new += 1
        while new >= 0 and temp_c < self.steps[new].temp_c - self.hysteresis_c:
            new -= 1
        return new

    def resistance_scale(self, level: int) -> float:
        return 1.0 if level < 0 else float(self.steps[level].resistance_scale)

    def speed_pct(self, level: int) -> float:
        return 0.0 if level < 0 else float(self.steps[level].speed_pct)


def choose_frequency(kind: GovernorKind, freqs_mhz: list[float], latency_s: dict[float, float],
                     period_s: float | None, cap_mhz: float | None, up_threshold: float = 0.8) -> float:
    """The operating point a governor picks for the next window, under the thermal cap."""
    allowed = [f for f in freqs_mhz if cap_mhz is None or f <= cap_mhz + 1e-9] or [min(freqs_mhz)]
    if kind is GovernorKind.PERFORMANCE or (kind is GovernorKind.ONDEMAND and period_s is None):
        return max(allowed)
    if kind is GovernorKind.POWERSAVE:
        return min(allowed)
    # ondemand/schedutil-like: the lowest clock that keeps utilisation under the threshold
    assert period_s is not None
    for f in sorted(allowed):
        if latency_s[f] <= up_threshold * period_s:
            return f
    return max(allowed)
