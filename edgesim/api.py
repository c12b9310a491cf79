"""The stable Python API: load things, estimate (analytic) and simulate (event engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgesim.cost.analytic import estimate_schedule
from edgesim.cost.estimate import Estimate
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.models import load_model


def load_profile(id_or_path: str | Path, *, clock_mhz: float | None = None) -> Any:
    """A bundled hardware profile by id, or a YAML file."""
    from edgesim.hw.loader import load_profile as _load

    return _load(id_or_path, clock_mhz=clock_mhz)


def resolve_runtime(profile: Any, runtime: str | None) -> tuple[Any, Any]:
    """(RuntimeProfile, RuntimeVersion) for a 'id[@version]' spec, or the profile's default runtime."""
    from edgesim.hw.loader import load_runtime

    default = getattr(profile, "default_runtime", None)
    if not runtime:
        # The profile's own default names the engine it was built with: no notice for a version it leaves out.
        return load_runtime(default, note_missing_version=False) if default else (None, None)
    return load_runtime(runtime, profile_default=default, profile_id=getattr(profile, "id", "?"))


def bind(profile: Any, runtime: str | None, threads: int | None = None) -> tuple[Any, Any, Any]:
    """(profile as the runtime sees it, RuntimeProfile, RuntimeVersion): refuses a runtime the chip cannot run
    (edgesim.hw.targeting), narrows the accelerator to the cores the runtime uses and the CPU to ``threads``."""
    from edgesim.hw.targeting import bind_runtime

    rt, version = resolve_runtime(profile, runtime)
    return bind_runtime(profile, rt, threads), rt, version


def estimate(graph: Graph | str | Path, profile: Any, runtime: str | None = None,
             threads: int | None = None) -> Estimate:
    """Fast analytical latency/energy estimate of one inference (``threads``: CPU threads of the runtime)."""
    g = graph if isinstance(graph, Graph) else load_model(graph)
    prof = profile if not isinstance(profile, (str, Path)) else load_profile(profile)
    prof, rt, version = bind(prof, runtime, threads)
    return estimate_schedule(build_schedule(g, prof, rt, version), prof)


def simulate(graph: Graph | str | Path, profile: Any, runtime: str | None = None) -> Estimate:
    """Event-engine (SimPy) latency/energy of one inference, with contention and overlap."""
    from edgesim.sim import simulate as _simulate

    est, _, _ = _simulate(graph, profile, runtime)
    return est


__all__ = ["bind", "estimate", "load_model", "load_profile", "resolve_runtime", "simulate"]
