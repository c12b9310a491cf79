"""A steady stream of frames: the period between frames once the pipeline is full (throughput rows)."""

from __future__ import annotations

from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
from edgesim.mapping.plan import Schedule
from edgesim.sim.engine import simulate_schedule


def stream_frames(schedule: Schedule) -> tuple[int, int]:
    """Frames whose wall-time difference gives the steady-state period; the difference of two streams' wall times
    cancels pipeline fill and drain. A runtime that neither pipelines layers nor runs frames on different cores
    at once only overlaps the next frame's host overhead with this one's compute, so the stream is steady from
    the second frame (2 -> 4 frames); multi-stream runtimes need more frames in flight (4 -> 12); a
    layer-pipelined dataflow chip fills over ~8 frames: below that a 50-layer CNN on Hailo-8's 8 clusters is
    still filling (marginal frames come cheaper). On the four Hailo-8 model-zoo FPS rows of edge_latency.csv
    8 -> 16 agrees with 16 -> 48 within 0.2% (ResNet-50; 8 -> 32 within 0.3%, at twice the simulation)."""
    if schedule.layer_pipelining:
        return (8, 16)
    return (4, 12) if schedule.inter_op_parallel else (2, 4)


def schedule_period_s(schedule: Schedule, profile: HardwareProfile, frames: tuple[int, int] | None = None,
                      batch: int = 1) -> float:
    """Seconds between frames of a steady stream of ``schedule``: the event engine's wall time with ``frames[1]``
    frames queued at once minus that with ``frames[0]`` (default ``stream_frames(schedule)``), per extra frame.
    It is 1 / throughput of the bottleneck once the pipeline is full, whatever the fill and drain cost (a one-off
    per-stream overhead included). A multi-context network (Schedule.contexts > 1) is run ``batch`` frames per context switch."""
    lo, hi = frames if frames is not None else stream_frames(schedule)
    if not 1 <= lo < hi:
        raise EdgesimError(f"need 1 <= frames[0] < frames[1], got {frames}", field="frames")
    if batch < 1:
        raise EdgesimError(f"batch must be >= 1, got {batch}", field="batch")
    rates = [simulate_schedule(schedule, profile, frames=n).throughput_inf_per_s for n in (lo, hi)]
    if min(rates) <= 0:
        return 0.0  # nothing to run (every op a view): no time between frames
    # No frame leaves before its round trip (Schedule.frame_floor_s), however the frames overlap.
    period = max((hi / rates[1] - lo / rates[0]) / (hi - lo), schedule.frame_floor_s)
    if schedule.contexts <= 1:
        return period
    # The chip holds one context at a time, so a batch runs context by context: the switches once per batch, the
    # batch's first frame through the network at its single-frame latency, the others at the pipelined period
    # (HailoRT's batch size: contexts are switched once per batch, hailo_model_zoo's batch-1 vs batch-8 FPS).
    latency = simulate_schedule(schedule, profile, frames=1).makespan_s
    return max((schedule.context_switch_s + latency + (batch - 1) * period) / batch, schedule.frame_floor_s)
