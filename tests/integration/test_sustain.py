"""Sustained runs reproduce the published Raspberry Pi 5 thermal behaviour (../shared/reference/thermal.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.api import load_model
from edgesim.cli import main
from edgesim.thermal.governor import GovernorKind
from edgesim.thermal.sustain import sustain
from tests._helpers import base_run


@pytest.fixture(scope="module")
def heavy_model():  # type: ignore[no-untyped-def]
    return load_model("resnet50")


def _run(model, hw: str, **kw):  # type: ignore[no-untyped-def]
    return sustain(base_run(model, hw), **kw)


def test_bare_pi5_reaches_80c_within_minutes_and_settles_in_band(heavy_model) -> None:  # type: ignore[no-untyped-def]
    res = _run(heavy_model, "rpi5", duration_s=900.0, ambient_c=22.0)
    assert res.throttled
    assert res.throttle_onset_s is not None and 60.0 <= res.throttle_onset_s <= 420.0  # "within a few minutes"
    settled = [t for t, s in zip(res.temp_c, res.time_s, strict=True) if s > 450.0]
    assert min(settled) >= 78.0 and max(settled) <= 85.5  # progressive 80-85 C throttle band
    assert min(res.freq_mhz) < max(res.freq_mhz)  # the clock really came down
    assert res.latency_s[-1] > res.latency_s[0]  # and the model slowed down


def test_pi5_with_active_cooler_stays_at_full_clock_below_75c(heavy_model) -> None:  # type: ignore[no-untyped-def]
    res = _run(heavy_model, "rpi5-cooler", duration_s=900.0, ambient_c=22.0)
    assert not res.throttled and res.throttle_onset_s is None
    assert res.max_temp_c < 75.0
    assert set(res.freq_mhz) == {2400.0}
    assert max(res.fan_pct) > 0  # the fan came on


def test_rate_limited_run_misses_no_frames_and_runs_cooler(heavy_model) -> None:  # type: ignore[no-untyped-def]
    full = _run(heavy_model, "rpi5", duration_s=300.0)
    slow = _run(heavy_model, "rpi5", duration_s=300.0, rate_hz=1.0)
    assert slow.frames_missed == 0
    assert slow.max_temp_c < full.max_temp_c
    assert slow.inferences == pytest.approx(300.0, rel=1e-6)
    overload = _run(heavy_model, "rpi5", duration_s=60.0, rate_hz=100.0)
    assert overload.frames_missed > 0


def test_powersave_is_slower_and_cooler(heavy_model) -> None:  # type: ignore[no-untyped-def]
    perf = _run(heavy_model, "rpi5", duration_s=120.0)
    save = _run(heavy_model, "rpi5", duration_s=120.0, governor=GovernorKind.POWERSAVE)
    assert save.mean_latency_s > perf.mean_latency_s
    assert save.max_temp_c < perf.max_temp_c


def test_sustain_cli_json_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["sustain", "mobilenet_v2", "--hw", "rpi5", "--duration", "300", "--json", str(out),
                 "--plot", str(png)]) == 0
    data = json.loads(out.read_text())
    for key in ("throttled", "throttle_onset_s", "max_temp_c", "final_temp_c", "mean_latency_s",
                "energy_per_inference_j", "series"):
        assert key in data
    assert len(data["series"]["temp_c"]) == len(data["series"]["time_s"]) == 600
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_battery_life_from_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    assert main(["sustain", "resnet8", "--hw", "stm32l4r5", "--duration", "60", "--rate", "1",
                 "--battery-mah", "1000", "--json", str(out)]) == 0
    bat = json.loads(out.read_text())["battery"]
    assert bat["hours"] > 0 and bat["inferences_per_charge"] > 0
    assert main(["sustain", "resnet8", "--hw", "stm32l4r5", "--battery-wh", "1"]) == 2  # needs --rate


def test_big_little_policies_from_cli(tmp_path: Path) -> None:
    out = {}
    for policy in ("big-only", "burst", "little-only"):
        path = tmp_path / f"{policy}.json"
        assert main(["sustain", "mobilenet_v2", "--hw", "rk3588", "--policy", policy, "--duration", "300",
                     "--json", str(path)]) == 0
        out[policy] = json.loads(path.read_text())
    assert out["burst"]["max_temp_c"] < out["big-only"]["max_temp_c"]
    assert out["little-only"]["mean_latency_s"] > out["big-only"]["mean_latency_s"]
    assert main(["sustain", "mobilenet_v2", "--hw", "rpi5", "--policy", "burst"]) == 2  # no LITTLE cluster


def test_run_reports_average_and_peak_power(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    assert main(["run", "resnet8", "--hw", "jetson-orin-nano", "--quant", "int8", "--json", str(path)]) == 0
    rep = json.loads(path.read_text())
    assert rep["peak_power_w"] >= rep["average_power_w"] > 0


def test_impossible_ambient_is_refused_for_every_policy() -> None:
    assert main(["sustain", "resnet8", "--hw", "rk3588", "--policy", "burst", "--ambient", "-500"]) == 2
    assert main(["sustain", "resnet8", "--hw", "rpi5", "--ambient", "nan"]) == 2
