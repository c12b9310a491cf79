"""The stages of one run, each a function of the state so far, listed once in ``STAGES``.

load the profile -> load the model -> transform it -> resolve the runtime -> map (place, tile, plan) -> cost
(analytic or event engine) -> power. ``edgesim.pipeline.run`` runs them in this order for every door.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from edgesim.cost.analytic import estimate_schedule
from edgesim.cost.estimate import Estimate
from edgesim.cost.power import PowerSummary, estimate_power
from edgesim.errors import EdgesimError, MappingError, ProfileError
from edgesim.frontends.loader import is_zoo_name, load_model
from edgesim.hw.loader import load_profile, load_runtime
from edgesim.hw.schema import HardwareProfile, Precision, RuntimeProfile, RuntimeVersion
from edgesim.hw.targeting import bind_runtime, runtime_fit_problem
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.passes.accuracy import AccuracyReport
from edgesim.passes.choices import QuantPreset
from edgesim.passes.pipeline import run_pipeline
from edgesim.pipeline.checks import (
    FallbackWarning,
    FitVerdict,
    check_clock,
    fallback_warning,
    fit_verdict,
)
from edgesim.pipeline.device_calibration import (
    DeviceScale,
    lookup,
    scale_estimate,
    scale_events,
    scale_power,
    scale_sim,
)
from edgesim.pipeline.spec import (
    Engine,
    FusedGroupInfo,
    RunSpec,
    TransformOptions,
    TransformReport,
)
from edgesim.sim.engine import SimResult
from edgesim.sim.trace import TraceEvent

_R = TypeVar("_R")


@dataclass(frozen=True)
class State:
    """What the stages have produced so far (each stage fills its fields)."""

    spec: RunSpec
    profile: HardwareProfile | None = None
    source_graph: Graph | None = None
    graph: Graph | None = None
    transform: TransformReport | None = None
    runtime: RuntimeProfile | None = None
    version: RuntimeVersion | None = None
    schedule: Schedule | None = None
    estimate: Estimate | None = None
    sim: SimResult | None = None
    events: tuple[TraceEvent, ...] | None = None
    power: PowerSummary | None = None
    overclocked: bool = False
    forced: str | None = None
    fit: FitVerdict | None = None
    fallback: FallbackWarning | None = None
    # the device's own vendor-table multiplier applied to the costed run (``stage_device_calibration``); set
    # before the stages run by ``run_on`` and ``rerun``: the same device at another clock or a cluster of it
    device_scale: DeviceScale | None = None


def resolve_profile(hw: str | Path | HardwareProfile, clock_mhz: float | None = None) -> HardwareProfile:
    """A profile object as given, a bundled id, a profile YAML or a SCALE-Sim .cfg; at ``clock_mhz`` if given."""
    if clock_mhz is not None and (isinstance(clock_mhz, bool) or not isinstance(clock_mhz, numbers.Real)):
        raise ProfileError(f"must be a number of MHz, got {clock_mhz!r}", field="clock_mhz")  # was a TypeError
    if clock_mhz is not None and not 0 < clock_mhz < math.inf:  # also refuses nan
        raise ProfileError(f"clock must be positive and finite, got {clock_mhz}", field="clock_mhz")
    if isinstance(hw, HardwareProfile):
        return hw.with_clock(clock_mhz) if clock_mhz is not None else hw
    if str(hw).lower().endswith(".cfg"):
        from edgesim.frontends.scalesim import config_to_profile, read_config

        path = Path(hw)
        if not path.exists():
            raise ProfileError(f"SCALE-Sim config '{hw}' does not exist")
        profile = config_to_profile(read_config(path))
        return profile.with_clock(clock_mhz) if clock_mhz is not None else profile
    return load_profile(hw, clock_mhz=clock_mhz)


def resolve_runtime(profile: HardwareProfile, runtime: str | None, quiet: bool = False
                    ) -> tuple[RuntimeProfile | None, RuntimeVersion | None]:
    """(runtime, release) for an 'id[@version]' spec, or the profile's default runtime; (None, None) for a
    profile that names none (peak hardware, no runtime). ``quiet``: no version notice on stderr."""
    default = profile.default_runtime
    if not runtime:
        # The profile's own default names the engine it was built with: no notice for a version it leaves out.
        return load_runtime(default, note_missing_version=False) if default else (None, None)
    return load_runtime(runtime, profile_default=default, profile_id=profile.id, quiet=quiet)


def _file_stamp(ref: str | Path | None) -> tuple[int, int] | None:
    if ref is None:
        return None
    try:
        st = Path(ref).stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


# Loaded (and transformed) graphs by what produced them: compare, sweep and validate ask for the same model many
# times. Small, since a float ResNet-50 holds ~100 MB of weights.
_GRAPHS: OrderedDict[tuple[object, ...], tuple[Graph, Graph, TransformReport, TransformOptions]] = OrderedDict()
_GRAPH_CACHE_SIZE = 8


def _graph_key(spec: RunSpec) -> tuple[object, ...]:
    t = spec.transform
    if isinstance(spec.model, Graph):
        # A prebuilt graph is immutable: its identity (checked below, ids are reused after collection) names it.
        return ("graph", id(spec.model), t)
    # repr: zoo choices may hold lists (OFA kernel sizes per block)
    return (str(spec.model), _file_stamp(spec.model), spec.input_shape, repr(spec.zoo_choices), t,
            _file_stamp(t.quant_spec), _file_stamp(t.calib))


def load_source(model: str | Path | Graph, input_shape: tuple[int, ...] | None = None,
                zoo_choices: tuple[tuple[str, object], ...] = ()) -> Graph:
    """The model as a canonical graph (a prebuilt graph is used as given)."""
    if isinstance(model, Graph):
        if input_shape is not None or zoo_choices:
            raise EdgesimError("input shape and zoo options apply to model files and zoo names, not to a graph")
        return model
    return run_pipeline(load_model(model, input_shape=input_shape, zoo_choices=dict(zoo_choices) or None))


RANDOM_WEIGHTS_NOTE = "zoo weights are random: accuracy not reported"


def transform_graph(graph: Graph, options: TransformOptions, *, random_weights: bool = False
                    ) -> tuple[Graph, TransformReport]:
    """Apply the transformations; the report says what they did (and how accurate, when measured).

    ``random_weights`` (a zoo model): accuracy is not measured unless asked explicitly, since agreement between a
    random network and its quantized copy says nothing about a trained one; the report says so."""
    from edgesim.passes.compress import compression_summary
    from edgesim.passes.optimize import optimize, options_from_cli

    opts = options_from_cli(quant=options.quant, quant_spec=options.quant_spec, calib=options.calib,
                            prune=options.prune, fuse=options.fuse, compress=options.compress, graph=graph,
                            calibration=options.calibration)
    out = optimize(graph, opts)
    fused = None
    if options.fuse:
        from edgesim.passes.fusion import fusion_report

        fused = tuple(FusedGroupInfo(g.node, tuple(g.fused_from), g.saved_bytes)
                      for g in fusion_report(graph, out).groups)
    note = None
    if random_weights and options.changes_weights:
        note = RANDOM_WEIGHTS_NOTE if options.accuracy is not True else \
            "zoo weights are random: the accuracy figures compare two random networks, not a trained model"
    wanted = options.wants_accuracy and (options.accuracy is True or not random_weights)
    accuracy = _accuracy(graph, out) if wanted else None
    before, after = compression_summary(graph), compression_summary(out)
    converted = (options.quant_by_runtime, str(options.quant)) if options.quant_by_runtime and options.quant else None
    return out, TransformReport(len(graph.nodes), len(out.nodes), before["stored_bytes"], after["stored_bytes"],
                                fused, accuracy, note, converted)


def _accuracy(reference: Graph, transformed: Graph) -> AccuracyReport:
    from edgesim.passes.accuracy import accuracy_report
    from edgesim.passes.float_exec import synthetic_inputs

    return accuracy_report(reference, transformed, synthetic_inputs(reference, 4))


# -- the stages ----------------------------------------------------------------------------------------------
def stage_profile(s: State) -> State:
    """The profile at the spec's clock, refused outside its DVFS table unless the spec allows overclocking."""
    spec = s.spec
    base = resolve_profile(spec.hw)
    if spec.clock_mhz is not None:
        resolve_profile(base, spec.clock_mhz)  # positive and finite first: its message is the plainer one
        overclocked = check_clock(base, spec.clock_mhz, spec.overclock)
        return replace(s, profile=base.with_clock(spec.clock_mhz), overclocked=overclocked)
    # A profile object may carry a clock set by its maker (a sweep's clock axis): its own table still bounds it.
    own = isinstance(spec.hw, HardwareProfile)
    return replace(s, profile=base, overclocked=own and check_clock(base, base.clock_mhz, spec.overclock,
                                                                     include_own_clock=False))


def _float_model(graph: Graph) -> bool:
    """No quantized tensor and some fp32 one. A float8/float4-quantized graph is not one: --quant leaves it as it
    is, and no runtime profile says what its compiler does with it."""
    from edgesim.passes.quantize import is_quantized

    dtypes = {t.dtype for t in graph.tensors.values()}
    return DType.FP32 in dtypes and not any(d.is_low_bit_float for d in dtypes) and not is_quantized(graph)


def _converting_runtime(s: State) -> RuntimeProfile | None:
    """The run's runtime when its compiler converts a float model itself (``float_models_as``) and the caller asked
    for no quantization; None otherwise. A runtime that cannot be resolved is left to the runtime stage to refuse
    (after the model's own errors, as before)."""
    t = s.spec.transform
    if (t.quant is not None and t.quant_by_runtime is None) or t.quant_spec is not None or s.profile is None:
        return None
    try:
        rt, _ = resolve_runtime(s.profile, s.spec.runtime, quiet=True)
    except EdgesimError:
        return None
    return rt if rt is not None and rt.float_models_as is not None else None


_FLOAT_NOTED: set[str] = set()  # float-conversion notices already printed this run


def _note_conversion(rt: RuntimeProfile) -> None:
    conv = rt.float_models_as
    assert conv is not None
    int8_offered = (not rt.precisions or Precision.INT8 in rt.precisions) and conv.precision is not Precision.INT8
    hint = "; --quant int8 for an int8 model" if int8_offered else ""
    message = (f"edgesim: runtime {rt.id} compiles float models to {conv.precision} ({conv.source}), so the model "
               f"runs as --quant {conv.precision} would{hint}")
    if message not in _FLOAT_NOTED:
        _FLOAT_NOTED.add(message)
        print(message, file=sys.stderr)


def note_kept_quantized(graph: Graph, t: TransformOptions) -> None:
    """A stderr notice when the caller asked to quantize a model that already is (quantize_graph keeps it as it
    is): `--quant fp16` on an int8 .tflite was answered with the int8 model's figures without a word. The driver
    says it once the runtime is accepted (a refusal stays one line); ``edgesim optimize`` after transforming."""
    from edgesim.passes.quantize import is_quantized

    asked = f"--quant {t.quant}" if t.quant is not None else "--quant-spec" if t.quant_spec is not None else None
    if asked is None or t.quant_by_runtime is not None or not is_quantized(graph):
        return
    held = {x.dtype for x in graph.tensors.values()} & {DType.INT4, DType.INT8, DType.UINT8, DType.INT16}
    if t.quant is QuantPreset.INT8 and t.quant_spec is None and held <= {DType.INT8, DType.UINT8}:
        return  # int8 asked of an int8 model (compare's "quantize the float ones"): what it gets
    what = "/".join(sorted(d.name.lower() for d in held)) or "quantized"
    message = (f"edgesim: {graph.name} is already quantized ({what}); {asked} applies to float models and leaves "
               "it as it is")
    if message not in _FLOAT_NOTED:
        _FLOAT_NOTED.add(message)
        print(message, file=sys.stderr)


def stage_load_and_transform(s: State) -> State:
    """Load and transform the model. A float model the caller asked no quantization of, on a runtime whose
    compiler converts float models (``RuntimeProfile.float_models_as``: RKNN builds fp16 for its NPU), is
    transformed as ``--quant`` that precision would, and the state's spec records it (``quant_by_runtime``) so
    the caches and every later reader see the precision that ran."""
    rt = _converting_runtime(s)
    spec = s.spec
    if spec.transform.quant_by_runtime is not None:  # a spec from an earlier run: decided again for this runtime
        spec = replace(spec, transform=replace(spec.transform, quant=None, quant_by_runtime=None))
    key = (*_graph_key(spec), rt.id if rt is not None else None, rt.float_models_as if rt is not None else None)
    hit = _GRAPHS.get(key)
    if hit is not None and isinstance(spec.model, Graph) and hit[0] is not spec.model:
        hit = None  # another graph now has the id of a collected one
    if hit is None:
        source = load_source(spec.model, spec.input_shape, spec.zoo_choices)
        zoo = not isinstance(spec.model, Graph) and is_zoo_name(spec.model)
        options = spec.transform
        if rt is not None and rt.float_models_as is not None and _float_model(source):
            options = replace(options, quant=QuantPreset(rt.float_models_as.precision.value), quant_by_runtime=rt.id)
        graph, report = transform_graph(source, options, random_weights=zoo)
        hit = (source, graph, report, options)
        _GRAPHS[key] = hit
        while len(_GRAPHS) > _GRAPH_CACHE_SIZE:
            _GRAPHS.popitem(last=False)
    else:
        _GRAPHS.move_to_end(key)
    return replace(s, spec=replace(spec, transform=hit[3]), source_graph=hit[0], graph=hit[1], transform=hit[2])


def bind(profile: HardwareProfile, runtime: str | None, threads: int | None = None, force: bool = False
         ) -> tuple[HardwareProfile, RuntimeProfile | None, RuntimeVersion | None]:
    """(the profile as the runtime sees it, runtime, release): the runtime resolved and bound to the chip, refused
    where it cannot drive it (edgesim.hw.targeting), the accelerator narrowed to the cores the runtime uses, the
    host CPU to ``threads``."""
    rt, version = resolve_runtime(profile, runtime, quiet=True)
    bound = _BOUND.get((profile, rt, version), (threads, force),
                       lambda: bind_runtime(profile, rt, threads, force, version))
    if runtime:
        resolve_runtime(profile, runtime)  # accepted: now its version notice (a refusal stays one line)
    return bound, rt, version


def stage_runtime(s: State) -> State:
    assert s.profile is not None
    profile, rt, version = bind(s.profile, s.spec.runtime, s.spec.threads, s.spec.force)
    quant = s.spec.transform.quant
    if rt is not None and quant is not None and not s.spec.force:
        # A precision none of the runtime's accelerator units has (fp16 on the int8-only v68 HTP) is refused here,
        # as `validate` refuses the row: the run door answered it as a CPU fallback. W4 presets run int8 MACs.
        from edgesim.hw.targeting import check_precision

        wanted = str(getattr(quant, "value", quant))  # a preset, or its name as a spec built by hand holds it
        try:
            check_precision(profile, rt, "int8" if wanted.startswith("w4") else wanted)
        except ProfileError as err:
            if s.spec.transform.quant_by_runtime != rt.id:
                raise
            raise ProfileError(f"{err.message}: {rt.id} builds a float model at {wanted} "
                               "(float_models_as); --quant int8 for an int8 model") from None
    if rt is not None and s.spec.transform.quant_by_runtime == rt.id:
        _note_conversion(rt)  # after the runtime is accepted: a refusal stays one line
    if s.source_graph is not None:
        note_kept_quantized(s.source_graph, s.spec.transform)
    forced = runtime_fit_problem(s.profile, rt, version) if rt is not None and s.spec.force else None
    return replace(s, profile=profile, runtime=rt, version=version, forced=forced)


class _IdentityMemo:
    """Results by the identity of the immutable objects they were computed from (kept alive with them, so an id
    is never reused while keyed): asking the same question of the same objects again costs a lookup."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[object, ...], tuple[tuple[object, ...], object]] = OrderedDict()

    def get(self, sources: tuple[object, ...], flags: tuple[object, ...], compute: Callable[[], _R]) -> _R:
        key = (*(id(x) for x in sources), *flags)
        hit = self.entries.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], sources, strict=True)):
            self.entries.move_to_end(key)
            return hit[1]  # type: ignore[return-value]
        value = compute()
        self.entries[key] = (sources, value)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value


_SCHEDULES = _IdentityMemo(64)
_BOUND = _IdentityMemo(64)
_CHECKS = _IdentityMemo(64)
_ESTIMATES = _IdentityMemo(64)


def stage_map(s: State) -> State:
    graph, profile = s.graph, s.profile
    assert graph is not None and profile is not None
    fuse = s.spec.transform.fuse
    try:
        schedule = _SCHEDULES.get((graph, profile, s.runtime, s.version), (fuse,), lambda: build_schedule(
            graph, profile, s.runtime, s.version, fuse_residual_add=fuse))
    except MappingError as exc:
        raise _naming_device(exc, profile, s.runtime) from None
    return replace(s, schedule=schedule)


def _naming_device(exc: MappingError, profile: HardwareProfile, runtime: RuntimeProfile | None) -> MappingError:
    """The mapper's refusal naming the device and runtime it was asked of: the tiler's 'cannot tile X' named only
    the node and the memory, so a sweep or compare over boards did not say which board refused."""
    if exc.message.startswith("device "):
        return exc
    where = f"device {profile.id}" + (f", runtime {runtime.id}" if runtime is not None else "")
    return MappingError(f"{where}: {exc.message}", file=exc.file, field=exc.field, node=exc.node)


def stage_checks(s: State) -> State:
    """The fit verdict and the fallback warning of the mapped schedule (before the costing: they are about what
    was placed where)."""
    schedule, profile, graph = s.schedule, s.profile, s.graph
    assert schedule is not None and profile is not None and graph is not None
    low_bit_float = any(t.dtype.is_low_bit_float for t in graph.tensors.values())
    fit, fallback = _CHECKS.get((schedule, profile, s.runtime), (), lambda: (
        fit_verdict(schedule, profile, s.runtime), fallback_warning(schedule, profile, s.runtime, low_bit_float)))
    return replace(s, fit=fit, fallback=fallback)


def _analytic(schedule: Schedule, profile: HardwareProfile) -> tuple[Estimate, PowerSummary]:
    est = estimate_schedule(schedule, profile)
    return est, estimate_power(est)


def stage_cost(s: State) -> State:
    schedule, profile = s.schedule, s.profile
    assert schedule is not None and profile is not None
    if s.spec.engine is Engine.ANALYTIC:
        est, power = _ESTIMATES.get((schedule, profile), (), lambda: _analytic(schedule, profile))
        return replace(s, estimate=est, power=power)
    from edgesim.sim.engine import simulate_schedule, to_estimate
    from edgesim.sim.power import power_summary
    from edgesim.sim.trace import TraceRecorder

    recorder = TraceRecorder() if s.spec.record_trace else None
    result = simulate_schedule(schedule, profile, recorder, s.spec.frames)
    return replace(s, estimate=to_estimate(schedule, profile, result), sim=result,
                   events=tuple(recorder.events) if recorder is not None else None,
                   power=power_summary(schedule, profile, result))


def stage_device_calibration(s: State) -> State:
    """A bundled board with vendor-table rows of its own (``edgesim.pipeline.device_calibration``): the costed run
    scaled by the multiplier its rows give (of the run's precision and, where it has them, its network), when the
    chip is the shipped profile and the runtime matches. ``device_scale`` already set (a rerun of a calibrated run):
    that multiplier."""
    est, profile, power = s.estimate, s.profile, s.power
    assert est is not None and profile is not None and power is not None
    if not s.spec.device_calibration:
        return s
    scale = s.device_scale or lookup(s.spec.hw, s.spec.clock_mhz, s.spec.model, profile.id,
                                     s.runtime.id if s.runtime is not None else None, est)
    if scale is None:
        return s
    k = scale.multiplier
    new = scale_estimate(est, k, scale.note())
    return replace(s, estimate=new, device_scale=scale, power=scale_power(power, new, s.sim is None),
                   sim=scale_sim(s.sim, k) if s.sim is not None else None,
                   events=scale_events(s.events, k) if s.events is not None else None)


Stage = Callable[[State], State]

# The one list of stages. Every door runs all of them, in this order.
STAGES: tuple[tuple[str, Stage], ...] = (
    ("profile", stage_profile),
    ("load+transform", stage_load_and_transform),
    ("runtime", stage_runtime),
    ("map", stage_map),
    ("checks", stage_checks),
    ("cost", stage_cost),
    ("device calibration", stage_device_calibration),
)


def clear_caches() -> None:
    """Forget loaded graphs, schedules, estimates and per-op costs (tests that edit a model file in place use it)."""
    from edgesim.mapping.memo import clear_memos

    clear_memos()
    _GRAPHS.clear()
    _SCHEDULES.entries.clear()
    _ESTIMATES.entries.clear()
    _BOUND.entries.clear()
    _CHECKS.entries.clear()
