"""The discrete-event simulation path (SimPy). The driver (``edgesim.pipeline``) runs it for ``Engine.EVENT``."""

from __future__ import annotations

from edgesim.sim.engine import OpTiming, SimResult, simulate_schedule, to_estimate
from edgesim.sim.trace import TraceEvent, Tracer, TraceRecorder, utilisation, write_chrome_trace

__all__ = ["OpTiming", "SimResult", "TraceEvent", "TraceRecorder", "Tracer", "simulate_schedule",
           "to_estimate", "utilisation", "write_chrome_trace"]
