"""Governors, trip points with hysteresis, fan steps, battery life."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edgesim.errors import EdgesimError
from edgesim.thermal.governor import FanController, GovernorKind, ThermalThrottle, choose_frequency
from edgesim.thermal.sustain import battery_life


@dataclass(frozen=True)
class Trip:
    temp_c: float
    max_freq_mhz: float
    hysteresis_c: float


@dataclass(frozen=True)
class Step:
    temp_c: float
    speed_pct: float
    resistance_scale: float


FREQS = [600.0, 1200.0, 1800.0, 2400.0]
LAT = {600.0: 0.04, 1200.0: 0.02, 1800.0: 0.0134, 2400.0: 0.01}


def test_governors_pick_points() -> None:
    assert choose_frequency(GovernorKind.PERFORMANCE, FREQS, LAT, None, None) == 2400.0
    assert choose_frequency(GovernorKind.POWERSAVE, FREQS, LAT, None, None) == 600.0
    # 30 Hz: period 33 ms, 80% threshold 26.7 ms -> 1200 MHz (20 ms) is the lowest that keeps up
    assert choose_frequency(GovernorKind.ONDEMAND, FREQS, LAT, 1 / 30, None) == 1200.0
    # the thermal cap wins over performance
    assert choose_frequency(GovernorKind.PERFORMANCE, FREQS, LAT, None, 1800.0) == 1800.0


def test_trip_points_hysteresis_and_progressive_caps() -> None:
    th = ThermalThrottle([Trip(85.0, 1500.0, 2.0), Trip(80.0, 2000.0, 2.0)])
    s = th.initial()
    s = th.update(s, 79.9)
    assert th.cap_mhz(s) is None
    s = th.update(s, 80.0)
    assert th.cap_mhz(s) == 2000.0
    s = th.update(s, 78.5)  # inside the hysteresis band: still engaged
    assert th.cap_mhz(s) == 2000.0
    s = th.update(s, 85.2)
    assert th.cap_mhz(s) == 1500.0
    s = th.update(s, 77.9)  # below both release points
    assert th.cap_mhz(s) is None


def test_fan_steps_with_hysteresis() -> None:
    fan = FanController([Step(50, 30, 0.6), Step(60, 50, 0.45), Step(75, 100, 0.3)], 5.0)
    lvl = fan.update(-1, 49.0)
    assert lvl == -1 and fan.resistance_scale(lvl) == 1.0
    lvl = fan.update(lvl, 61.0)
    assert fan.speed_pct(lvl) == 50
    lvl = fan.update(lvl, 56.0)  # above 60-5: stays
    assert fan.speed_pct(lvl) == 50
    lvl = fan.update(lvl, 54.0)
    assert fan.speed_pct(lvl) == 30
    lvl = fan.update(lvl, 44.0)
    assert lvl == -1


def test_battery_life_duty_cycle() -> None:
    # 1 mJ per 10 ms inference at 1 Hz with 10 uW sleep on a 1 Wh cell
    life = battery_life(1e-3, 0.01, 1.0, 10e-6, 1.0)
    per_period = 1e-3 + 10e-6 * 0.99
    assert life.inferences_per_charge == pytest.approx(3600.0 / per_period)
    assert life.hours == pytest.approx(3600.0 / per_period / 3600.0)
    with pytest.raises(EdgesimError, match="longer than the period"):
        battery_life(1e-3, 2.0, 1.0, 1e-5, 1.0)
