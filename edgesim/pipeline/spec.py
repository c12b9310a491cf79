"""What one run asks (``RunSpec``) and what it answers (``RunResult``): the typed contract of the driver.

Every door (the CLI commands, ``edgesim.api``, compare, sweep, validate, calibrate, thermal) builds a ``RunSpec``
and hands it to ``edgesim.pipeline.run``, so one question gets one answer whichever door it comes through.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from edgesim.cost.estimate import Estimate
from edgesim.cost.power import PowerSummary
from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile, RuntimeProfile, RuntimeVersion
from edgesim.ir.graph import Graph
from edgesim.mapping.plan import Schedule
from edgesim.passes.accuracy import AccuracyReport
from edgesim.passes.choices import Compression, QuantPreset
from edgesim.pipeline.checks import FallbackWarning, FitVerdict, clock_range_mhz
from edgesim.pipeline.device_calibration import DeviceScale
from edgesim.pipeline.gaps import KnownGap
from edgesim.report.units import si_bytes
from edgesim.sim.engine import SimResult
from edgesim.sim.trace import TraceEvent


class Engine(StrEnum):
    """How the schedule is costed: closed-form per op (``--fast``) or the SimPy event engine."""

    ANALYTIC = "analytic"
    EVENT = "event"


@dataclass(frozen=True)
class TransformOptions:
    """The model transformations, applied in order: fuse, prune, quantize, compress (``edgesim.passes.optimize``).

    ``compress`` defaults to int4 packing (a no-op unless weights are 4-bit), for every door alike."""

    quant: QuantPreset | None = None
    quant_spec: str | Path | None = None  # YAML mixed-precision spec
    calib: str | Path | None = None  # .npy calibration inputs
    prune: str | None = None  # 0.5, global:0.5, 2:4, channels:0.3
    fuse: bool = True
    compress: Compression = Compression.INT4
    accuracy: bool | None = None  # None: measured when quantizing or pruning (needs the float executor)
    # Activation ranges for --quant: minmax/percentile/mse run the float executor on calibration inputs; "fixed"
    # skips it (costs read dtypes and shapes, never scales: identical costs, for cost-only searches).
    calibration: str = "minmax"
    # The runtime whose compiler chose ``quant`` for a float model the user asked no quantization of (its
    # float_models_as: RKNN builds fp16), set by the driver; None = ``quant`` is the caller's own.
    quant_by_runtime: str | None = None

    def __post_init__(self) -> None:
        # A library caller's prune=0.5 (as edgesim.estimate takes it) failed as an AttributeError in the pass.
        if isinstance(self.prune, numbers.Real) and not isinstance(self.prune, bool):
            object.__setattr__(self, "prune", str(self.prune))
        elif self.prune is not None and not isinstance(self.prune, str):
            raise EdgesimError(f"must be a pruning spec like 0.5, 2:4 or channels:0.3, got {self.prune!r}",
                               field="prune")

    @property
    def changes_weights(self) -> bool:
        return bool(self.quant or self.quant_spec or self.prune)

    @property
    def wants_accuracy(self) -> bool:
        return self.accuracy if self.accuracy is not None else self.changes_weights


MAX_FRAMES = 10_000  # --frames above this is refused (see RunSpec.__post_init__)


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # numpy integers included


def _check_types(spec: RunSpec) -> None:
    """A library caller's wrong type is a one-line EdgesimError naming the field, not a TypeError deep in a stage
    (or, worse, a float thread count used as given); a list input shape becomes the tuple the caches key on."""
    if not isinstance(spec.model, str | Path | Graph):
        raise EdgesimError(f"must be a model file, a zoo name or a Graph, got {type(spec.model).__name__}",
                           field="model")
    if spec.clock_mhz is not None and (isinstance(spec.clock_mhz, bool)
                                       or not isinstance(spec.clock_mhz, numbers.Real)):
        raise EdgesimError(f"must be a number of MHz, got {spec.clock_mhz!r}", field="clock_mhz")
    for name in ("threads", "frames", "batch"):
        value = getattr(spec, name)
        if value is not None and not _whole(value):
            raise EdgesimError(f"must be a whole number, got {value!r}", field=name)
    if isinstance(spec.input_shape, list):
        object.__setattr__(spec, "input_shape", tuple(spec.input_shape))
    if not isinstance(spec.engine, Engine):
        # engine="fast" ran the event engine (every check tests 'is Engine.ANALYTIC'); "event" as text is fine
        try:
            object.__setattr__(spec, "engine", Engine(spec.engine))
        except ValueError:
            raise EdgesimError(f"unknown engine {spec.engine!r}; choose {', '.join(e.value for e in Engine)}",
                               field="engine") from None
    if not isinstance(spec.transform, TransformOptions):
        raise EdgesimError(f"must be a TransformOptions, got {type(spec.transform).__name__}", field="transform")


@dataclass(frozen=True)
class RunSpec:
    """One question: this model, transformed so, on this hardware and runtime, costed by this engine.

    ``model`` is a file (.tflite/.onnx/SCALE-Sim .csv), a zoo name, or a prebuilt graph (used as given: the
    transformations still apply). ``hw`` is a bundled id, a profile YAML, a SCALE-Sim .cfg or a profile object.
    ``zoo_choices`` are a zoo model's options (resolution, alpha, OFA kernel_sizes...), as sorted pairs."""

    model: str | Path | Graph
    hw: str | Path | HardwareProfile
    runtime: str | None = None  # 'id[@version]'; None: the profile's default runtime
    input_shape: tuple[int, ...] | None = None
    clock_mhz: float | None = None
    zoo_choices: tuple[tuple[str, object], ...] = ()
    transform: TransformOptions = field(default_factory=TransformOptions)
    engine: Engine = Engine.ANALYTIC
    threads: int | None = None  # CPU threads of the runtime (TFLite XNNPACK, OpenVINO CPU); None: all host cores
    frames: int = 1  # event engine: inferences queued at once (throughput)
    # Frames per context switch of a stream on a multi-context accelerator (HailoRT's batch size); needs frames > 1
    batch: int = 1
    record_trace: bool = False  # event engine: keep the trace events (Chrome trace, timeline plot)
    # A clock outside the profile's DVFS table is refused unless this is set: then the run is an overclocked
    # what-if, marked so in every output (RunResult.overclocked).
    overclock: bool = False
    # A runtime on a chip it does not target (Vela on an MCU without an Ethos-U, TensorRT off a Jetson) is refused
    # unless this is set: then the run is a forced what-if, marked so in every output (RunResult.forced).
    force: bool = False
    # A bundled board with vendor-table rows of its own gets their multiplier (edgesim.pipeline.device_calibration);
    # False: the model alone (the validation scores the model, and scores the multipliers held out itself).
    device_calibration: bool = True

    def __post_init__(self) -> None:
        _check_types(self)
        if self.frames < 1:
            raise EdgesimError(f"frames must be >= 1, got {self.frames}", field="frames")
        if self.frames > MAX_FRAMES:
            # The event engine simulates every frame (about a millisecond of host time each for a small network):
            # a billion frames would run for days, and throughput is steady after a few dozen (fill and drain
            # amortised; the vendor-table checks queue at most 48).
            raise EdgesimError(f"frames must be <= {MAX_FRAMES}, got {self.frames}: throughput is steady after a "
                               f"few dozen queued frames", field="frames")
        if not 1 <= self.batch <= MAX_FRAMES:
            raise EdgesimError(f"batch must be 1..{MAX_FRAMES}, got {self.batch}", field="batch")
        if self.batch > 1 and self.frames == 1:
            # a batch is frames of one stream switched in together: one frame has no batch to share a switch with
            raise EdgesimError("--batch needs --frames N (N > 1): a batch is frames of a stream", field="batch")
        if self.frames > 1 and self.engine is not Engine.EVENT:
            raise EdgesimError("--frames needs the event engine; drop --fast", field="frames")
        if self.record_trace and self.engine is not Engine.EVENT:
            raise EdgesimError("--trace needs the event engine; drop --fast", field="trace")


@dataclass(frozen=True)
class FusedGroupInfo:
    node: str
    fused_from: tuple[str, ...]
    saved_bytes: int
    saved_bytes_by_memory: tuple[tuple[str, int], ...] = ()  # residual ADDs fused at mapping time only
    residual_add: bool = False


@dataclass(frozen=True)
class TransformReport:
    """What the transformations did: op counts, stored weight bytes, fused groups, accuracy when measured."""

    nodes_before: int
    nodes_after: int
    weight_bytes_before: int
    weight_bytes_after: int
    fused: tuple[FusedGroupInfo, ...] | None  # None: fusion off
    accuracy: AccuracyReport | None  # against the untransformed model, when measured
    # Why accuracy is not reported although the transformations change weights (zoo models carry seeded random
    # weights: agreement between two random networks means nothing); None = no such reason.
    accuracy_note: str | None = None
    # A float model converted by the runtime's compiler (TransformOptions.quant_by_runtime): (runtime id, precision)
    runtime_conversion: tuple[str, str] | None = None

    @property
    def saved_activation_bytes(self) -> int:
        return sum(g.saved_bytes for g in self.fused or ())

    def as_dict(self) -> dict[str, object]:
        """The JSON report's ``transform``/``fusion``/``accuracy`` entries."""
        out: dict[str, object] = {"transform": {
            "nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
            "weight_bytes_before": self.weight_bytes_before, "weight_bytes_after": self.weight_bytes_after}}
        if self.runtime_conversion is not None:
            rt, precision = self.runtime_conversion
            out["runtime_conversion"] = {"runtime": rt, "precision": precision}
        if self.fused is not None:
            groups: list[dict[str, object]] = []
            for g in self.fused:
                entry: dict[str, object] = {"node": g.node, "fused_from": list(g.fused_from),
                                            "saved_bytes": g.saved_bytes}
                if g.residual_add:
                    entry.update(saved_bytes_by_memory=dict(g.saved_bytes_by_memory), residual_add=True)
                groups.append(entry)
            out["fusion"] = {"saved_activation_bytes": self.saved_activation_bytes, "groups": groups}
        if self.accuracy is not None:
            a = self.accuracy
            out["accuracy"] = {"output_sqnr_db": a.output_sqnr_db, "top1_agreement": a.top1_agreement,
                               "num_samples": a.num_samples,
                               "layers": [{"tensor": x.tensor, "sqnr_db": x.sqnr_db} for x in a.layers]}
            out["accuracy_summary"] = a.summary()
        if self.accuracy_note is not None:
            out["accuracy_note"] = self.accuracy_note
        return out

    def summary_line(self) -> str:
        line = (f"transformed: {self.nodes_before} -> {self.nodes_after} ops, weights "
                f"{si_bytes(self.weight_bytes_before)} -> {si_bytes(self.weight_bytes_after)}")
        if self.fused is not None:
            line += (f"; fused {len(self.fused)} groups, {si_bytes(self.saved_activation_bytes)} of activations no "
                     f"longer written and read back")
        if self.runtime_conversion is not None:
            rt, precision = self.runtime_conversion
            line += f"; float model converted to {precision} by runtime {rt}'s compiler"
        return line


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced, stage by stage."""

    spec: RunSpec
    profile: HardwareProfile
    source_graph: Graph  # as loaded (canonicalized), before the transformations
    graph: Graph  # as costed
    transform: TransformReport
    runtime: RuntimeProfile | None
    version: RuntimeVersion | None
    schedule: Schedule
    estimate: Estimate
    power: PowerSummary
    sim: SimResult | None  # event engine only
    events: tuple[TraceEvent, ...] | None  # event engine with record_trace only
    fit: FitVerdict  # weights and activations against the chip's memories
    fallback: FallbackWarning | None  # more than a tenth of the MACs on a fallback unit
    overclocked: bool  # the clock is outside the profile's DVFS table (spec.overclock allowed it)
    forced: str | None = None  # why the runtime does not target this chip, when spec.force ran it anyway
    # the device's own vendor-table multiplier the run was scaled by (None: the model alone)
    device_scale: DeviceScale | None = None
    # the runtime's declared unmodelled costs that apply to this chip, release and graph (edgesim.pipeline.gaps)
    gaps: tuple[KnownGap, ...] = ()
    # Seconds between frames of a steady stream (edgesim.pipeline.stream.steady_period_s), set when frames > 1
    stream_period_s: float | None = None

    @property
    def peak_hardware(self) -> bool:
        """No runtime: the profile names none and the caller gave none, so the numbers are the hardware's peak
        (no kernel efficiency, no dispatch overhead), not what any engine achieves."""
        return self.runtime is None

    def warnings(self) -> tuple[str, ...]:
        """One-line flags every door prints with the summary."""
        out = []
        if self.overclocked:
            low, high = clock_range_mhz(self.profile)
            which = "overclocked" if self.profile.clock_mhz > high else "underclocked"
            out.append(f"{which} what-if: {self.profile.clock_mhz:g} MHz is outside profile {self.profile.id}'s "
                       f"DVFS table ({low:g}-{high:g} MHz)")
        if self.forced is not None:
            out.append(f"forced what-if: {self.forced}")
        if self.peak_hardware:
            out.append("peak hardware, no runtime: the profile names no default_runtime; give --runtime for what "
                       "an inference engine achieves")
        if self.fallback is not None:
            out.append(self.fallback.line().removeprefix("warning: "))
        if (unused := self._unexploited_pruning()) is not None:
            out.append(unused)
        out += [g.line() for g in self.gaps]
        return tuple(out)

    def _unexploited_pruning(self) -> str | None:
        """--prune asked of units that skip no zeros: the figures are the dense model's, which was said nowhere
        (50% magnitude pruning on an MCU answered exactly the unpruned latency and energy)."""
        t = self.spec.transform
        if not t.prune or t.prune.strip().lower().startswith("channels") or t.compress is Compression.HUFFMAN:
            return None  # channel pruning removes the work itself; Huffman stores the zeros in fewer bytes
        if any("sparsity" in n or "zero-skipping" in n for p in self.schedule.plans for n in p.notes):
            return None
        units = sorted({p.unit for p in self.schedule.plans if p.macs})
        support = sorted({s.value for u in self.profile.units if u.name in units for s in u.sparsity})
        return (f"--prune {t.prune} buys no speed or energy here: the units running the pruned layers "
                f"({', '.join(units)}) skip no zeros of it (their sparsity support: {', '.join(support) or 'none'}); "
                "the figures are the dense model's (channels:X pruning removes the work on any unit)")

    @property
    def latency_s(self) -> float:
        return self.estimate.latency_s

    @property
    def energy_j(self) -> float:
        return self.estimate.energy_j

    @property
    def throughput_inf_per_s(self) -> float | None:
        """Inferences per second: a stream's steady state when frames were queued (what a vendor's FPS is, and
        what `edgesim validate` scores), else one frame's 1 / latency (event engine); None under the analytic
        engine with one frame."""
        if self.stream_period_s is not None:
            return 1.0 / self.stream_period_s if self.stream_period_s > 0 else None
        return self.sim.throughput_inf_per_s if self.sim is not None else None


__all__ = ["Engine", "FusedGroupInfo", "RunResult", "RunSpec", "TransformOptions",
           "TransformReport"]
