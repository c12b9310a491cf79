"""The one pipeline driver: every command and the Python API ask ``run(RunSpec)``, so answers agree by door.

>>> from edgesim.pipeline import RunSpec, run
>>> result = run(RunSpec("resnet8", "stm32l4r5"))          # doctest: +SKIP
>>> result.latency_s, result.energy_j                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from edgesim.hw.schema import HardwareProfile
from edgesim.mapping.fusion import ScheduledFusion, scheduled_fusions
from edgesim.pipeline.checks import FallbackWarning, FitVerdict, clock_range_mhz
from edgesim.pipeline.gaps import KnownGap, graph_kernel_keys, matching_gaps
from edgesim.pipeline.spec import (
    Engine,
    FusedGroupInfo,
    RunResult,
    RunSpec,
    TransformOptions,
    TransformReport,
)
from edgesim.pipeline.stages import (
    STAGES,
    Stage,
    State,
    bind,
    clear_caches,
    load_source,
    note_kept_quantized,
    resolve_profile,
    resolve_runtime,
    transform_graph,
)


def run(spec: RunSpec) -> RunResult:
    """Run every stage of ``STAGES`` on ``spec``."""
    return _finish(State(spec), STAGES)


def _finish(state: State, stages: Sequence[tuple[str, Stage]]) -> RunResult:
    for _, stage in stages:
        state = stage(state)
    s = state
    assert (s.profile is not None and s.source_graph is not None and s.graph is not None
            and s.transform is not None and s.schedule is not None and s.estimate is not None
            and s.power is not None and s.fit is not None)
    declared = s.runtime is not None and bool(s.runtime.unmodelled)  # the graph's op kinds are read only then
    # the bound profile's host unit has the run's threads as its core count (hw.targeting.bind_runtime); a point
    # scaled by this device's own rows of this network was measured with the cost in it (KnownGap.absorbed_by)
    scale = s.device_scale
    own_rows = scale is not None and scale.of_network
    gaps = matching_gaps(s.runtime, s.version, s.profile.id,
                         graph_kernel_keys(s.graph, s.schedule) if declared else None, s.profile.host.count,
                         scale.note() if own_rows and scale is not None else None)
    result = RunResult(spec=s.spec, profile=s.profile, source_graph=s.source_graph, graph=s.graph,
                       transform=s.transform, runtime=s.runtime, version=s.version, schedule=s.schedule,
                       estimate=s.estimate, power=s.power, sim=s.sim, events=s.events,
                       fit=s.fit, fallback=s.fallback, overclocked=s.overclocked,
                       forced=s.forced, device_scale=s.device_scale, gaps=gaps)
    if s.spec.frames > 1:
        # frames queued: the stream's steady state, the one throughput every door reports (pipeline.stream)
        from edgesim.pipeline.stream import steady_period_s

        result = replace(result, stream_period_s=steady_period_s(result, s.spec.batch))
    return result


def run_on(result: RunResult, profile: HardwareProfile) -> RunResult:
    """The same model, transformed the same way, on another profile (another clock, one cluster of the chip):
    the stages after loading and transforming run again."""
    spec = replace(result.spec, hw=profile, clock_mhz=None)
    low, high = clock_range_mhz(profile)
    # the same board at another clock or one cluster of it: its own vendor-table multiplier still holds
    state = State(spec, profile=profile, source_graph=result.source_graph, graph=result.graph,
                  transform=result.transform, overclocked=not low <= profile.clock_mhz <= high,
                  device_scale=result.device_scale)
    return _finish(state, STAGES[[name for name, _ in STAGES].index("load+transform") + 1:])


def residual_fusions(result: RunResult) -> tuple[ScheduledFusion, ...]:
    """The residual ADDs and SiLUs the runtime fused at mapping time, and the activation bytes each no longer moves
    (maps the graph once more without them to compare)."""
    if not (result.spec.transform.fuse and result.runtime is not None
            and (result.runtime.fused_residual_add or result.runtime.fused_silu
                 or result.runtime.fused_leaky_relu)):
        return ()
    from edgesim.mapping.mapper import build_schedule

    unfused = build_schedule(result.graph, result.profile, result.runtime, result.version, fuse_residual_add=False)
    return scheduled_fusions(unfused.plans, result.schedule.plans)


def transform_report_with_mapping(result: RunResult) -> TransformReport:
    """The transformation report with the residual ADDs fused at mapping time added to its fused groups."""
    report = result.transform
    extra = tuple(FusedGroupInfo(f.node, f.fused_from, f.saved_bytes, f.saved_bytes_by_memory,
                                 residual_add=f.residual_add)
                  for f in residual_fusions(result))
    if not extra or report.fused is None:
        return report
    return replace(report, fused=(*report.fused, *extra))


__all__ = ["STAGES", "bind", "Engine", "FallbackWarning", "FitVerdict", "FusedGroupInfo", "KnownGap", "RunResult",
           "RunSpec",
           "TransformOptions", "TransformReport", "clear_caches", "load_source", "note_kept_quantized",
           "residual_fusions", "resolve_profile", "resolve_runtime", "run", "run_on", "transform_graph",
           "transform_report_with_mapping"]
