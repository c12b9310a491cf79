"""A round trip every frame waits for (RuntimeProfile.frame_round_trips): HailoRT sends each Hailo-10H inference
as an RPC to the module's server, so no frame's latency and no stream's period is shorter than it, on both cost
paths; a heavy network is not floored, and the Hailo-8 (a PCIe driver, no RPC) has no floor at all."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from edgesim.cost.analytic import estimate_schedule
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema_runtime import FrameRoundTrip
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import Engine, RunResult, RunSpec, TransformOptions, run
from edgesim.sim.stream import schedule_period_s

_INT8 = TransformOptions(quant=QuantPreset.INT8, calibration="fixed", accuracy=False)


def _stream(network: str, hw: str = "hailo-10h") -> RunResult:
    return run(RunSpec(network, hw, "hailort@5.2", transform=_INT8, engine=Engine.EVENT, frames=8))


def _declared_us() -> float:
    (trip,) = load_runtime("hailort", quiet=True)[0].frame_round_trips
    assert trip.chips == ["hailo-10h"]
    return trip.round_trip_us


def test_a_light_network_streams_at_the_round_trip() -> None:
    floor_s = _declared_us() / 1e6
    res = _stream("squeezenet1_1")
    assert res.schedule.frame_floor_s == pytest.approx(floor_s)
    assert res.stream_period_s == pytest.approx(floor_s, rel=1e-9)
    assert res.latency_s >= floor_s
    # without the round trip the chip alone would run it several times faster
    free = replace(res.schedule, frame_floor_s=0.0)
    assert schedule_period_s(free, res.profile) < 0.5 * floor_s
    fast = run(RunSpec("squeezenet1_1", "hailo-10h", "hailort@5.2", transform=_INT8))
    assert fast.latency_s == pytest.approx(floor_s)
    # the wait draws static power: the analytic path charges it
    assert estimate_schedule(fast.schedule, fast.profile).energy_j > \
        estimate_schedule(replace(fast.schedule, frame_floor_s=0.0), fast.profile).energy_j


def test_a_heavy_network_is_not_floored() -> None:
    res = _stream("yolov8s")
    assert res.stream_period_s is not None and res.stream_period_s > 3 * res.schedule.frame_floor_s
    assert schedule_period_s(replace(res.schedule, frame_floor_s=0.0), res.profile) == \
        pytest.approx(schedule_period_s(res.schedule, res.profile), rel=1e-12)


def test_the_hailo_8_has_no_round_trip() -> None:
    assert _stream("squeezenet1_1", "hailo-8").schedule.frame_floor_s == 0.0


@pytest.mark.parametrize("bad", [{"chips": [], "round_trip_us": 300.0}, {"chips": ["x"], "round_trip_us": 0.0}])
def test_a_bad_declaration_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FrameRoundTrip.model_validate(bad | {"source": "a document"})
