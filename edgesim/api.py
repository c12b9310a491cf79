"""The stable Python API: load things, estimate (analytic) and simulate (event engine)."""

from __future__ import annotations

import sys
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
    spec = runtime or default
    if not spec:
        return None, None
    if runtime is not None and "@" not in runtime and default and default.partition("@")[0] == runtime:
        # The engine named without a release: take the release the chip's profile names for it (the one its
        # numbers were built with) when it names one, rather than the engine's overall default.
        spec = default
        if "@" in default:
            print(f"edgesim: runtime {runtime}: no version given; using {default.partition('@')[2]}, the version "
                  f"profile {getattr(profile, 'id', '?')} names", file=sys.stderr)
    # The profile's own default names the engine it was built with: no notice for a version it leaves out.
    return load_runtime(spec, note_missing_version=runtime is not None and spec == runtime)


def estimate(graph: Graph | str | Path, profile: Any, runtime: str | None = None) -> Estimate:
    """Fast analytical latency/energy estimate of one inference."""
    g = graph if isinstance(graph, Graph) else load_model(graph)
    prof = profile if not isinstance(profile, (str, Path)) else load_profile(profile)
    rt, version = resolve_runtime(prof, runtime)
    return estimate_schedule(build_schedule(g, prof, rt, version), prof)


def simulate(graph: Graph | str | Path, profile: Any, runtime: str | None = None) -> Estimate:
    """Event-engine (SimPy) latency/energy of one inference, with contention and overlap."""
    from edgesim.sim import simulate as _simulate

    est, _, _ = _simulate(graph, profile, runtime)
    return est


__all__ = ["estimate", "load_model", "load_profile", "resolve_runtime", "simulate"]
