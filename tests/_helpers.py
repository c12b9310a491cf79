"""Small test-side conveniences over the pipeline driver."""

from __future__ import annotations

from pathlib import Path

from edgesim.cost.estimate import Estimate
from edgesim.hw.schema import HardwareProfile, RuntimeProfile
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.pipeline import Engine, RunResult, RunSpec, TransformOptions, run
from edgesim.sim.engine import SimResult
from edgesim.sim.trace import TraceEvent, write_chrome_trace


def simulate(graph: Graph | str, profile: HardwareProfile | str, runtime: str | None = None,
             trace_path: str | Path | None = None, frames: int = 1
             ) -> tuple[Estimate, SimResult, list[TraceEvent]]:
    """The event engine on a graph as given (no transformations): (estimate, raw timing, trace events)."""
    res = run(RunSpec(graph, profile, runtime, transform=TransformOptions(fuse=False, accuracy=False),
                      engine=Engine.EVENT, frames=frames, record_trace=True))
    assert res.sim is not None and res.events is not None
    if trace_path is not None:
        write_chrome_trace(res.events, trace_path)
    return res.estimate, res.sim, list(res.events)


def base_run(model: Graph | str, profile: HardwareProfile | str, runtime: str | None = None,
             fuse: bool = True) -> RunResult:
    """An analytic run of ``model`` on ``profile`` as ``edgesim run --fast`` makes it (the thermal model's base);
    ``fuse=False`` costs the graph as built (BatchNorm and activations as separate ops)."""
    return run(RunSpec(model, profile, runtime, transform=TransformOptions(fuse=fuse, accuracy=False)))


def reference_graph(model: str, precision: str = "int8") -> Graph:
    """The graph ``edgesim validate`` costs for a reference model at ``precision`` (edgesim.validate.core)."""
    from edgesim.pipeline import load_source, transform_graph
    from edgesim.validate.core import reference_spec

    spec = reference_spec(model, precision)
    return transform_graph(load_source(spec.model, zoo_choices=spec.zoo_choices), spec.transform)[0]


def runtime_residuals(runtime: str, devices: int, per_device: int, sigma: float, seed: int
                      ) -> list[tuple[str, str, float]]:
    """Synthetic (runtime, board, log residual) rows: ``per_device`` normal residuals of spread ``sigma`` on each
    of ``devices`` boards of ``runtime`` (seeded), the shape the per-runtime interval calibration reads."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [(runtime, f"{runtime}-board{d}", float(v)) for d in range(devices)
            for v in rng.normal(0.0, sigma, per_device)]


def schedule_with(graph: Graph, profile: HardwareProfile, runtime: RuntimeProfile, **flags: bool) -> Schedule:
    """``graph``'s schedule on ``profile`` with ``runtime`` at its default version, runtime fields set by ``flags``
    (e.g. fused_silu=False), for tests that compare a runtime behaviour on and off."""
    rt = runtime.model_copy(update=flags)
    return build_schedule(graph, profile, rt, rt.version(rt.default_version))


def schedule_traffic_bytes(schedule: Schedule) -> int:
    """Bytes every plan of ``schedule`` reads and writes."""
    return sum(t.read_bytes + t.write_bytes for p in schedule.plans for t in p.traffic)
