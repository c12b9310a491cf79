"""The discrete-event simulation path (SimPy). ``simulate`` is the event-engine twin of ``api.estimate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgesim.cost.estimate import Estimate
from edgesim.ir.graph import Graph
from edgesim.sim.engine import OpTiming, SimResult, simulate_schedule, to_estimate
from edgesim.sim.trace import TraceEvent, Tracer, TraceRecorder, utilisation, write_chrome_trace


def simulate(graph: Graph | str | Path, profile: Any, runtime: str | None = None,
             trace_path: str | Path | None = None, frames: int = 1) -> tuple[Estimate, SimResult, list[TraceEvent]]:
    """Event-engine estimate of one inference: (estimate, raw timing, trace events); writes the Chrome trace
    to ``trace_path`` when given. ``frames`` > 1 queues that many inferences (``SimResult.throughput_inf_per_s``)."""
    from edgesim.api import bind, load_profile
    from edgesim.mapping.mapper import build_schedule
    from edgesim.models import load_model

    g = graph if isinstance(graph, Graph) else load_model(graph)
    prof = profile if not isinstance(profile, (str, Path)) else load_profile(profile)
    prof, rt, version = bind(prof, runtime)
    schedule = build_schedule(g, prof, rt, version)
    recorder = TraceRecorder()
    result = simulate_schedule(schedule, prof, recorder, frames)
    if trace_path is not None:
        write_chrome_trace(recorder.events, trace_path)
    return to_estimate(schedule, prof, result), result, recorder.events


__all__ = ["OpTiming", "SimResult", "TraceEvent", "TraceRecorder", "Tracer", "simulate", "simulate_schedule",
           "to_estimate", "utilisation", "write_chrome_trace"]
