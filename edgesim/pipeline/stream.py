"""The one throughput of a stream of frames: what `edgesim run --frames N`, the API and `edgesim validate`'s
throughput rows all report.

A vendor's FPS is the steady state of a stream (benchmark_app's THROUGHPUT hint, hailortcli's FPS, AI Hub's
inferences per second): the period between frames once the pipeline is full, fill and drain excluded, with every
stream the runtime runs (OpenVINO's THROUGHPUT hint puts streams on a hybrid CPU's E-cores too) and a
multi-context accelerator switching contexts once per batch. ``run --frames N`` reported N frames' wall time
instead (fill and drain included, P-cores only): half the validated figure on a Core Ultra 9 288V's CPU.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from edgesim.hw.schema import DeviceClass
from edgesim.sim.stream import schedule_period_s, stream_frames

if TYPE_CHECKING:
    from edgesim.pipeline.spec import RunResult

__all__ = ["little_cluster_period_s", "steady_period_s", "stream_frames"]


def little_cluster_period_s(result: RunResult) -> float | None:
    """Seconds between frames of the streams a multi-stream CPU runtime adds on a hybrid CPU's other core type
    (OpenVINO's THROUGHPUT hint runs streams on the E-cores too; its LATENCY hint only on the P-cores, the
    profile's host unit); None when the runtime or the chip has no such streams."""
    from edgesim.pipeline import run_on

    rt, profile = result.runtime, result.profile
    lc = profile.little_cluster
    if rt is None or lc is None or not rt.inter_op_parallel or rt.targets != [DeviceClass.CPU]:
        return None
    little = profile.model_copy(update={"units": [lc], "host_unit": lc.name, "little_cluster": None})
    # one frame: the little cores' schedule is what is wanted here, not a stream period of their own run
    other = run_on(replace(result, spec=replace(result.spec, frames=1, batch=1)), little)
    return schedule_period_s(other.schedule, other.profile, stream_frames(other.schedule)) or None


def steady_period_s(result: RunResult, batch: int = 1) -> float:
    """Seconds between frames of a steady stream of ``result``'s model: the event engine's period of its schedule
    (``batch`` frames per context switch on a multi-context accelerator), the little-core streams added as a
    second server, times the device's own vendor-table multiplier where the run carries one (it scales every
    time of the run, as it scales the latency)."""
    period = schedule_period_s(result.schedule, result.profile, stream_frames(result.schedule), batch)
    little = little_cluster_period_s(result)
    if little and period > 0:
        period = 1.0 / (1.0 / period + 1.0 / little)
    scale = result.device_scale.multiplier if result.device_scale is not None else 1.0
    return period * scale
