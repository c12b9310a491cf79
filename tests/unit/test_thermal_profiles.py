"""Every bundled chip profile carries its own thermal section, and the derived ones behave as their sources say."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgesim.api import load_model, load_profile
from edgesim.thermal.sustain import sustain
from tests._helpers import base_run

PROFILES = Path(__file__).resolve().parents[2] / "hw_profiles"
CHIPS = sorted(p for p in PROFILES.glob("*.yaml") if not p.name.startswith("_"))  # _*.yaml: shared bases


@pytest.mark.parametrize("path", CHIPS, ids=[p.stem for p in CHIPS])
def test_each_profile_file_has_its_own_thermal_section(path: Path) -> None:
    # Inheriting a parent's network would give an MCU in an LQFP64 the thermal mass of an LQFP144, or a USB stick
    # the heatsink of a dev board: each device states its own.
    data = yaml.safe_load(path.read_text())
    assert "thermal" in data, f"{path.name} has no thermal: section of its own"
    prof = load_profile(path.stem)
    assert prof.thermal.links and all(link.resistance_k_per_w > 0 for link in prof.thermal.links)


def test_trip_points_lower_the_clock_of_their_own_device() -> None:
    # A trip point at or above the nominal clock never throttles: that was the inherited rpi5 table on the rpi4.
    for path in CHIPS:
        prof = load_profile(path.stem)
        for trip in prof.thermal.trip_points:
            assert trip.max_freq_mhz < prof.clock_mhz, (path.stem, trip)


def _sustain(hw: str, ambient_c: float, duration_s: float = 900.0):  # type: ignore[no-untyped-def]
    # The profiles' thermal numbers were calibrated on the zoo graph as built (unfused): the same full load.
    return sustain(base_run("mobilenet_v2", hw, fuse=False), duration_s=duration_s, ambient_c=ambient_c)


def test_bare_pi4_under_full_load_settles_near_the_measured_rise() -> None:
    # thermal.md (pi-plates thermocouples): 27.3 C ambient, 4-thread load -> 65.8 C, no throttling.
    res = _sustain("rpi4", 27.3)
    assert not res.throttled
    assert res.final_temp_c == pytest.approx(65.8, abs=5.0)


def test_bare_pi4_in_a_hot_enclosure_throttles_to_a_dvfs_step() -> None:
    res = _sustain("rpi4", 50.0)
    assert res.throttled and res.throttle_onset_s is not None
    assert min(res.freq_mhz) in (1000.0, 750.0)
    assert res.max_temp_c < 87.0



def test_jetson_agx_orin_resnet50_power_near_mlperf_maxq() -> None:
    # thermal.md: MLPerf Inference v3.1 MaxQ, AGX Orin ResNet-50 SingleStream averages 13.53 W at the wall.
    # The Jetsons once inherited the Pi 5 CPU's 60 pJ/MAC and drew ~460 W here.
    from edgesim.api import estimate
    from edgesim.passes.optimize import optimize, options_from_cli

    graph = optimize(load_model("resnet50"), options_from_cli(quant="int8"))
    est = estimate(graph, load_profile("jetson-agx-orin"))
    assert est.energy_j / est.latency_s == pytest.approx(13.53, rel=0.3)
