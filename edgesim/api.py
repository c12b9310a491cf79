"""The stable Python API: load things, estimate (analytic) and simulate (event engine), all through the one
pipeline driver (``edgesim.pipeline``), so the answers equal the CLI's for the same question."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TypeVar

from edgesim.cost.estimate import Estimate
from edgesim.hw.schema import HardwareProfile, RuntimeProfile, RuntimeVersion
from edgesim.ir.graph import Graph
from edgesim.passes.choices import Compression, QuantPreset
from edgesim.pipeline import (
    Engine,
    RunResult,
    RunSpec,
    TransformOptions,
    load_source,
    resolve_profile,
    run,
)
from edgesim.pipeline import bind as _bind
from edgesim.pipeline import resolve_runtime as _resolve_runtime
from edgesim.pipeline.intervals import DEFAULT_CONFIDENCE, PredictionInterval, check_confidence
from edgesim.pipeline.intervals import interval as _interval
from edgesim.pipeline.sensitivity import Sensitivity
from edgesim.pipeline.sensitivity import sensitivity as _sensitivity

_E = TypeVar("_E", bound=Enum)


def load_model(path_or_name: str | Path, input_shape: tuple[int, ...] | None = None) -> Graph:
    """A model file (.tflite, .onnx, SCALE-Sim .csv) or a zoo name, imported, verified and canonicalized."""
    return load_source(path_or_name, input_shape)


def load_profile(id_or_path: str | Path, *, clock_mhz: float | None = None) -> HardwareProfile:
    """A bundled hardware profile by id, a YAML file or a SCALE-Sim .cfg; optionally at another clock."""
    return resolve_profile(id_or_path, clock_mhz)


def resolve_runtime(profile: HardwareProfile, runtime: str | None
                    ) -> tuple[RuntimeProfile | None, RuntimeVersion | None]:
    """(runtime, release) for an 'id[@version]' spec, or the profile's default runtime."""
    return _resolve_runtime(profile, runtime)


def bind(profile: HardwareProfile, runtime: str | None, threads: int | None = None
         ) -> tuple[HardwareProfile, RuntimeProfile | None, RuntimeVersion | None]:
    """(the profile as ``runtime`` sees it, runtime, release); refuses a runtime the chip cannot run."""
    return _bind(profile, runtime, threads)


def _choice(kind: type[_E], value: object, name: str) -> _E:
    """``kind(value)``, or a one-line EdgesimError naming the field and the choices (not enum's ValueError)."""
    try:
        return kind(value)
    except ValueError:
        from edgesim.errors import EdgesimError

        raise EdgesimError(f"unknown {name} '{value}'; choose {', '.join(str(k.value) for k in kind)}",
                           field=name) from None


def _spec(model: Graph | str | Path, hw: HardwareProfile | str | Path, runtime: str | None, engine: Engine,
          quant: str | None, prune: str | float | None, fuse: bool, compress: str, input_shape: tuple[int, ...] | None,
          clock_mhz: float | None, threads: int | None, frames: int = 1, overclock: bool = False) -> RunSpec:
    transform = TransformOptions(quant=_choice(QuantPreset, quant, "quant") if quant else None,
                                 prune=str(prune) if isinstance(prune, int | float) else prune, fuse=fuse,
                                 compress=_choice(Compression, compress, "compress"), accuracy=False)
    return RunSpec(model=model, hw=hw, runtime=runtime, input_shape=input_shape, clock_mhz=clock_mhz,
                   threads=threads, transform=transform, engine=engine, frames=frames, overclock=overclock)


def estimate(model: Graph | str | Path, profile: HardwareProfile | str | Path, runtime: str | None = None, *,
             quant: str | None = None, prune: str | float | None = None, fuse: bool = True, compress: str = "int4",
             input_shape: tuple[int, ...] | None = None, clock_mhz: float | None = None,
             threads: int | None = None, overclock: bool = False) -> Estimate:
    """Analytic latency/energy estimate of one inference (``edgesim run --fast``).

    ``quant`` (int8, w4a8, w4a4, int16, fp16) quantizes a float model first, ``prune`` prunes it (0.5, 2:4,
    channels:0.3), ``fuse`` folds BatchNorm/activations, ``compress`` stores weights (none, int4, huffman);
    ``threads``: CPU threads of the runtime. ``clock_mhz`` must lie in the profile's DVFS table unless
    ``overclock`` (a what-if). The fit verdict and warnings are on ``edgesim.run(RunSpec(...))``'s result
    (``.fit``, ``.warnings()``; ``.gaps``: the runtime's declared unmodelled costs that apply)."""
    return run(_spec(model, profile, runtime, Engine.ANALYTIC, quant, prune, fuse, compress, input_shape,
                     clock_mhz, threads, overclock=overclock)).estimate


def simulate(model: Graph | str | Path, profile: HardwareProfile | str | Path, runtime: str | None = None, *,
             quant: str | None = None, prune: str | float | None = None, fuse: bool = True, compress: str = "int4",
             input_shape: tuple[int, ...] | None = None, clock_mhz: float | None = None,
             threads: int | None = None, frames: int = 1, overclock: bool = False) -> Estimate:
    """Event-engine (SimPy) latency/energy of one inference, with contention and DMA/compute overlap (``edgesim
    run``); ``frames`` queues that many inferences. ``edgesim.run(RunSpec(...))`` returns the raw timing too."""
    return run(_spec(model, profile, runtime, Engine.EVENT, quant, prune, fuse, compress, input_shape, clock_mhz,
                     threads, frames, overclock)).estimate


def interval(model: Graph | str | Path | RunResult, profile: HardwareProfile | str | Path | None = None,
             runtime: str | None = None, *, confidence: float = DEFAULT_CONFIDENCE, quant: str | None = None,
             input_shape: tuple[int, ...] | None = None, clock_mhz: float | None = None,
             threads: int | None = None) -> PredictionInterval:
    """The latency/energy interval of an analytic estimate at ``confidence`` (``edgesim run --confidence``):
    the profile's ranges propagated and the model's error for how novel the chip/runtime is. Also takes a
    ``RunResult`` (from ``edgesim.run``) directly."""
    check_confidence(confidence)
    if isinstance(model, RunResult):
        if profile is not None or runtime is not None:  # the result's own chip and runtime answer; these went unused
            from edgesim.errors import EdgesimError

            raise EdgesimError("a RunResult carries its profile and runtime; give them to edgesim.run instead",
                               field="profile" if profile is not None else "runtime")
        return _interval(model, confidence)
    if profile is None:
        from edgesim.errors import EdgesimError

        raise EdgesimError("interval needs a hardware profile", field="profile")
    result = run(_spec(model, profile, runtime, Engine.ANALYTIC, quant, None, True, "int4", input_shape, clock_mhz,
                       threads))
    return _interval(result, confidence)


def sensitivity(result: RunResult) -> Sensitivity:
    """Elasticities of latency and energy to the profile's parameters (``edgesim run --sensitivity``)."""
    if not isinstance(result, RunResult):
        from edgesim.errors import EdgesimError

        raise EdgesimError(f"needs the RunResult of edgesim.run, got {type(result).__name__}", field="result")
    return _sensitivity(result)


__all__ = ["PredictionInterval", "RunResult", "RunSpec", "Sensitivity", "bind", "estimate", "interval",
           "load_model", "load_profile", "resolve_runtime", "run", "sensitivity", "simulate"]
